#include "processes.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>
#include <thread>

namespace zq::chaos {
namespace {

using Clock = std::chrono::steady_clock;

std::vector<char*> c_strings(const std::vector<std::string>& argv) {
    std::vector<char*> pointers;
    for (const auto& word : argv) pointers.push_back(const_cast<char*>(word.c_str()));
    pointers.push_back(nullptr);
    return pointers;
}

// fork + exec with the output sent to `fd`. Only async-signal-safe calls between the two.
pid_t start(const std::vector<std::string>& argv, int fd, bool die_with_parent) {
    auto args = c_strings(argv);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid == 0) {
        if (die_with_parent) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (::getppid() != parent) ::_exit(127);
        }
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        ::execv(args[0], args.data());
        ::_exit(127);
    }
    return pid;
}

std::string read_file(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

}  // namespace

Ran run_command(const std::vector<std::string>& argv, std::chrono::milliseconds deadline) {
    char path[] = "/tmp/zq-chaos-command.XXXXXX";
    const int fd = ::mkstemp(path);
    if (fd < 0) return {};
    ::unlink(path);
    const pid_t pid = start(argv, fd, true);
    Ran ran;
    if (pid > 0 && !reap(pid, deadline, &ran.exit_code)) {
        ::kill(pid, SIGKILL);
        reap(pid, std::chrono::seconds(5));
        ran.exit_code = -1;
    }
    ::lseek(fd, 0, SEEK_SET);
    char buffer[4096];
    for (ssize_t n; (n = ::read(fd, buffer, sizeof buffer)) > 0;) ran.output.append(buffer, static_cast<std::size_t>(n));
    ::close(fd);
    return ran;
}

pid_t spawn(const std::vector<std::string>& argv, const std::string& log_path) {
    const int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) return -1;
    const pid_t pid = start(argv, fd, true);
    ::close(fd);
    return pid;
}

bool reap(pid_t pid, std::chrono::milliseconds deadline, int* exit_code) {
    const auto until = Clock::now() + deadline;
    for (;;) {
        int status = 0;
        const pid_t done = ::waitpid(pid, &status, WNOHANG);
        if (done == pid) {
            if (exit_code) *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            return true;
        }
        if (done < 0 && errno == ECHILD) return true;
        if (Clock::now() >= until) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
}

std::vector<pid_t> processes_of_run(const std::string& marker, const std::set<pid_t>& node_pids) {
    std::vector<pid_t> found;
    DIR* proc = ::opendir("/proc");
    if (!proc) return found;
    const pid_t self = ::getpid();
    while (dirent* entry = ::readdir(proc)) {
        char* end = nullptr;
        const long pid = std::strtol(entry->d_name, &end, 10);
        if (*end != '\0' || pid <= 0 || pid == self) continue;
        const std::string base = std::string("/proc/") + entry->d_name;
        // A zombie has given everything back; its parent reaps it.
        const std::string stat = read_file(base + "/stat");
        if (const auto close = stat.rfind(')'); close != std::string::npos && stat.size() > close + 2 &&
                                                 stat[close + 2] == 'Z') {
            continue;
        }
        std::string cmdline = read_file(base + "/cmdline");
        std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
        bool ours = !marker.empty() && cmdline.find(marker) != std::string::npos;
        if (!ours) {
            const std::string environment = read_file(base + "/environ");
            const std::string key = "ZQ_PARENT_PID=";
            for (std::size_t at = 0; at < environment.size();) {
                const std::size_t next = environment.find('\0', at);
                const std::string_view variable(environment.data() + at,
                                                (next == std::string::npos ? environment.size() : next) - at);
                if (variable.starts_with(key)) {
                    const pid_t parent = static_cast<pid_t>(std::atol(std::string(variable.substr(key.size())).c_str()));
                    ours = node_pids.count(parent) > 0;
                    break;
                }
                if (next == std::string::npos) break;
                at = next + 1;
            }
        }
        if (ours) found.push_back(static_cast<pid_t>(pid));
    }
    ::closedir(proc);
    return found;
}

}  // namespace zq::chaos
