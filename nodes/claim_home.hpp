// The home of a job id: the one node whose claim ledger (claim_ledger.hpp) decides which node
// of the cluster holds that id, so that an id resubmitted to any node runs once.
//
// Rendezvous (highest random weight) hashing: every candidate node gets a weight from the
// pair (id, node name) and the heaviest is the home. Every node that sees the same live
// members picks the same home without asking anyone; when a node leaves, only the ids it was
// home for move (each to the next heaviest), and a node that joins takes only the ids it now
// outweighs. The weight is a fixed function of the bytes (FNV-1a, then a 64-bit finalizer),
// never std::hash: nodes of different builds and hosts must agree on it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace zq::node {

// The weight of `node` for `id`; the same on every host and in every version.
std::uint64_t claim_weight(std::string_view id, std::string_view node);

// The home of `id` among this node (`self`) and the peers seen alive (`live_peers`, names).
// With no live peers it is `self`. Equal weights (a 2^-64 chance) go to the smaller name, so
// that the choice never depends on the order of the list.
std::string claim_home(std::string_view id, const std::string& self, const std::vector<std::string>& live_peers);

}  // namespace zq::node
