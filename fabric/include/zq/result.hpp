// Errors as values at the boundaries of zq: decoding, config, journal and network calls
// return a Result that holds either a value or an Error naming what failed and why.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace zq {

// What kind of failure an Error is, where a caller acts on the difference (zq-send's exit codes).
enum class ErrorCode {
    failed,       // the operation was attempted and refused or failed
    unreachable,  // no answer from the node within the timeout
    timed_out,    // the node answers, but what was awaited did not happen in time
    not_found,    // no such job
    bad_input,    // the caller's input is invalid
};

struct Error {
    std::string message;
    ErrorCode code = ErrorCode::failed;
};

template <class T>
class [[nodiscard]] Result {
public:
    Result(T value) : value_(std::move(value)) {}
    Result(Error error) : value_(std::move(error)) {}

    bool ok() const { return std::holds_alternative<T>(value_); }
    explicit operator bool() const { return ok(); }

    T& value() { return std::get<T>(value_); }
    const T& value() const { return std::get<T>(value_); }
    T& operator*() { return value(); }
    const T& operator*() const { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    const std::string& error() const { return std::get<Error>(value_).message; }
    ErrorCode error_code() const { return std::get<Error>(value_).code; }
    const Error& failure() const { return std::get<Error>(value_); }

private:
    std::variant<T, Error> value_;
};

// For calls that return nothing but may fail.
struct Done {};
using Status = Result<Done>;
inline Status success() { return Done{}; }

}  // namespace zq
