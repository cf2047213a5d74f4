// Workflows in C++: a chord whose members are chains, built with zq::chain, zq::group and
// zq::chord (zq/workflow.hpp), on the stock zq-worker's zq.add.
//
//   zq-example-workflow [ENDPOINT]
//
//   chord(group(chain(add(1), add(10)), chain(add(2), add(20))), then add())
//     each chain passes its result on: 1 -> 11, 2 -> 22; the callback gets [11, 22] -> 33.
//   A link_error on a step that fails would get [its job id, the error] instead.
//
// Exit codes as zq-send's: 0 the workflow succeeded, 1 it failed or was refused, 3 no answer.
#include <zq/client.hpp>
#include <zq/workflow.hpp>

#include <chrono>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
    zq::Client client(argc > 1 ? argv[1] : "");
    auto add = [](int number) { return zq::Task("zq.add").with_args(number); };
    auto flow = zq::chord(zq::group(zq::chain(add(1), add(10)), zq::chain(add(2), add(20))), zq::Task("zq.add"));
    auto submitted = client.submit_workflow(flow);
    if (!submitted) {
        std::cerr << submitted.error() << std::endl;
        return submitted.error_code() == zq::ErrorCode::unreachable ? 3 : 1;
    }
    auto done = client.wait(submitted->id, std::chrono::seconds(30));
    if (!done) {
        std::cerr << done.error() << std::endl;
        return 3;
    }
    for (const zq::StepInfo& step : done->steps) {
        std::cout << step.step << "  " << step.task << "  " << zq::to_string(step.state) << "  " << step.node << "\n";
    }
    if (!done->succeeded()) {
        std::cout << "workflow " << done->id << " " << zq::to_string(done->state) << ": " << done->error << std::endl;
        return 1;
    }
    std::cout << "workflow " << done->id << " succeeded: " << done->result_as<int>() << std::endl;
    return 0;
}
