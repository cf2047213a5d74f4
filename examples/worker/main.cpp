// A worker with C++ tasks: the starting point for your own.
//
// Build it (target zq-example-worker) and point a node at it, in the node's config file
//
//   worker = "/usr/local/bin/zq-example-worker"
//
// or on its command line (zq-node run --worker /usr/local/bin/zq-example-worker); then
// submit tasks:  zq-send example.add 2 40   or   zq-send example.word_count "to be or not to be"
//
// A task is a function registered under a name. Its parameters are read from the job's
// positional arguments (a wrong count or type fails the job with a message that says which
// argument was wrong); its return value becomes the job's result. Throwing zq::TaskFailure,
// or any std::exception, fails the job with that message. A task that may run long takes a
// `const zq::TaskContext&` first and looks at it now and then, so that a cancel or a soft
// time limit stops it cleanly.
#include <zq/worker.hpp>

#include <cstdint>
#include <map>
#include <sstream>
#include <string>

namespace {

std::int64_t add(std::int64_t a, std::int64_t b) {
    std::int64_t sum = 0;
    if (__builtin_add_overflow(a, b, &sum)) throw zq::TaskFailure("example.add: the sum does not fit in 64 bits");
    return sum;
}

std::map<std::string, std::int64_t> word_count(const zq::TaskContext& context, const std::string& text) {
    // Checking for a cancel once per this many words keeps the check cheap.
    constexpr std::int64_t kWordsBetweenChecks = 10000;
    std::map<std::string, std::int64_t> counts;
    std::istringstream words(text);
    std::string word;
    std::int64_t seen = 0;
    while (words >> word) {
        if (++seen % kWordsBetweenChecks == 0) context.check_canceled();
        ++counts[word];
    }
    return counts;
}

}  // namespace

int main(int argc, char** argv) {
    zq::Worker worker;
    worker.task("example.add", add);
    worker.task("example.word_count", word_count);
    return worker.run(argc, argv);
}
