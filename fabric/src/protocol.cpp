#include <zq/protocol.hpp>

namespace zq::protocol {

const CommandSpec* find_command(std::uint8_t code) {
    for (const auto& spec : kCommands) {
        if (static_cast<std::uint8_t>(spec.command) == code) return &spec;
    }
    return nullptr;
}

std::string_view command_name(Command command) {
    const CommandSpec* spec = find_command(static_cast<std::uint8_t>(command));
    return spec ? spec->name : "UNKNOWN";
}

std::string_view field_type_name(FieldType type) {
    switch (type) {
        case FieldType::string: return "string";
        case FieldType::unsigned_integer: return "unsigned integer";
        case FieldType::integer: return "integer";
        case FieldType::number: return "number";
        case FieldType::boolean: return "boolean";
        case FieldType::array: return "array";
        case FieldType::map: return "map";
        case FieldType::any: return "any";
    }
    return "?";
}

}  // namespace zq::protocol
