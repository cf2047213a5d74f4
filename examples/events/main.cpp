// Watching a cluster from C++: print every job that fails on any of the given nodes, as it
// happens, with zq::Events.
//
//   zq-example-events [ENDPOINT]...
//
// ENDPOINTs are nodes' client endpoints, as zq-send takes them (default: $ZQ_NODE, else the
// local node). Each node is asked where it publishes; the subscription takes every job event
// and keeps the failures here, in the client. A jump in a node's numbers (events PUB/SUB
// dropped) is printed too: events are not repaired. Stops after a minute without events.
#include <zq/defaults.hpp>
#include <zq/events.hpp>

#include <chrono>
#include <iostream>
#include <string>

int main(int argc, char** argv) {
    zq::Subscription subscription;
    for (int i = 1; i < argc; ++i) subscription.nodes.emplace_back(argv[i]);
    if (subscription.nodes.empty()) subscription.nodes.push_back(zq::default_node_endpoint());
    subscription.filter.tap = false;
    subscription.filter.broadcasts = false;
    subscription.filter.states = {"failed", "error"};

    auto events = zq::Events::open(subscription);
    if (!events) {
        std::cerr << "zq-example-events: " << events.error() << std::endl;
        return events.error_code() == zq::ErrorCode::bad_input ? 2 : 3;
    }
    while (auto event = events->next(std::chrono::minutes(1))) {
        if (event->kind == zq::EventKind::gap) {
            std::cout << event->node << ": missed events " << event->gap_from << ".." << event->gap_to << std::endl;
            continue;
        }
        std::cout << event->node << ": job " << event->id << " (" << event->task << ") " << event->state << ": "
                  << event->error << std::endl;
    }
    return 0;
}
