#include <zq/workflow.hpp>

namespace zq {
namespace {

void pack_key(msgpack::packer<msgpack::sbuffer>& packer, std::string_view key) { packer.pack(key); }

// Copies msgpack bytes in as one value.
void pack_raw(msgpack::packer<msgpack::sbuffer>& packer, const std::string& bytes) {
    auto handle = msgpack::unpack(bytes.data(), bytes.size());
    packer.pack(handle.get());
}

}  // namespace

Flow::Flow(Task task) : kind_(Kind::task), task_(std::move(task)) {}

Flow::Flow(Kind kind, std::vector<Flow> members) : kind_(kind), members_(std::move(members)) {}

Flow& Flow::immutable(bool value) {
    immutable_ = value;
    return *this;
}

Flow& Flow::link(Flow callback) {
    link_.assign(1, std::move(callback));
    return *this;
}

Flow& Flow::link_error(Flow callback) {
    link_error_.assign(1, std::move(callback));
    return *this;
}

Flow chord(Flow group, Flow then) {
    return Flow(Flow::Kind::chord, std::vector<Flow>{std::move(group), std::move(then)});
}

void Flow::pack_into(msgpack::packer<msgpack::sbuffer>& packer) const {
    if (kind_ == Kind::chain || kind_ == Kind::group) {
        packer.pack_map(1);
        pack_key(packer, kind_ == Kind::chain ? "chain" : "group");
        packer.pack_array(static_cast<std::uint32_t>(members_.size()));
        for (const Flow& member : members_) member.pack_into(packer);
        return;
    }
    if (kind_ == Kind::chord) {
        packer.pack_map(1);
        pack_key(packer, "chord");
        packer.pack_map(2);
        pack_key(packer, "group");
        // chord(group(...), then): the group's members; any other flow is a group of one.
        const Flow& group = members_[0];
        if (group.kind_ == Kind::group) {
            packer.pack_array(static_cast<std::uint32_t>(group.members_.size()));
            for (const Flow& member : group.members_) member.pack_into(packer);
        } else {
            packer.pack_array(1);
            group.pack_into(packer);
        }
        pack_key(packer, "then");
        members_[1].pack_into(packer);
        return;
    }
    std::uint32_t entries = 4 + (task_.target.empty() ? 0 : 1) + (immutable_ ? 1 : 0) + (task_.priority ? 1 : 0) +
                            (task_.max_retries ? 2 : 0) + (link_.empty() ? 0 : 1) + (link_error_.empty() ? 0 : 1);
    packer.pack_map(entries);
    pack_key(packer, "task");
    packer.pack(task_.name);
    pack_key(packer, "args");
    pack_raw(packer, task_.args);
    pack_key(packer, "kwargs");
    pack_raw(packer, task_.kwargs);
    pack_key(packer, "queue");
    packer.pack(task_.queue);
    if (!task_.target.empty()) {
        pack_key(packer, "target");
        packer.pack(task_.target);
    }
    if (immutable_) {
        pack_key(packer, "immutable");
        packer.pack(true);
    }
    if (task_.priority) {
        pack_key(packer, "priority");
        packer.pack(task_.priority);
    }
    if (task_.max_retries) {
        pack_key(packer, "retries");
        packer.pack(task_.max_retries);
        pack_key(packer, "retry_delay");
        packer.pack(task_.retry_delay);
    }
    if (!link_.empty()) {
        pack_key(packer, "link");
        link_[0].pack_into(packer);
    }
    if (!link_error_.empty()) {
        pack_key(packer, "link_error");
        link_error_[0].pack_into(packer);
    }
}

std::string Flow::packed() const {
    msgpack::sbuffer buffer;
    msgpack::packer<msgpack::sbuffer> packer(buffer);
    pack_into(packer);
    return std::string(buffer.data(), buffer.size());
}

}  // namespace zq
