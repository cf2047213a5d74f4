// Replays a fuzz target's corpus without libFuzzer: every file of every directory (or file)
// named on the command line goes through LLVMFuzzerTestOneInput once. The normal build runs
// each target this way as a test (fuzz/CMakeLists.txt), so an input that once crashed a
// decoder keeps being checked by `make test`, with whatever compiler built it.
#include "fuzz_target.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

namespace {

std::vector<std::filesystem::path> inputs_of(const std::filesystem::path& path) {
    std::vector<std::filesystem::path> inputs;
    if (std::filesystem::is_directory(path)) {
        for (const auto& entry : std::filesystem::recursive_directory_iterator(path)) {
            if (entry.is_regular_file()) inputs.push_back(entry.path());
        }
    } else {
        inputs.push_back(path);
    }
    std::sort(inputs.begin(), inputs.end());
    return inputs;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << "usage: " << argv[0] << " CORPUS_DIR_OR_FILE...\n";
        return 2;
    }
    std::size_t replayed = 0;
    for (int i = 1; i < argc; ++i) {
        if (!std::filesystem::exists(argv[i])) {
            std::cerr << argv[0] << ": " << argv[i] << " does not exist\n";
            return 2;
        }
        for (const auto& input : inputs_of(argv[i])) {
            std::ifstream file(input, std::ios::binary);
            const std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
            // Printed first, so that a crash names the input that caused it.
            std::cerr << "replaying " << input.string() << " (" << bytes.size() << " bytes)\n";
            LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
            ++replayed;
        }
    }
    if (replayed == 0) {
        std::cerr << argv[0] << ": the corpus is empty\n";
        return 2;
    }
    std::cout << argv[0] << ": " << replayed << " inputs replayed, none failed\n";
    return 0;
}
