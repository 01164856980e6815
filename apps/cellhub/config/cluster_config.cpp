#include "cellhub/cli/cluster_config.hpp"

#include "cellhub/apps/duration.hpp"
#include "cellhub/cli/binary_lookup.hpp"
#include "cellhub/cli/byte_size.hpp"
#include "cellhub/transport/hub_geometry.hpp"
#include "cellhub/transport/shm_layout.hpp"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <limits>
#include <map>
#include <set>
#include <system_error>
#include <tuple>
#include <utility>
#include <variant>

namespace cellhub::cli {
namespace fs = std::filesystem;
namespace ac = cellhub::actors;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;

namespace {

// The hub limits, as transport::hub_geometry::compute enforces them; checked here first so
// that the error can point at the offending key.
constexpr std::int64_t max_peers_limit = 4096;
constexpr std::int64_t max_ring_capacity = 65536;
constexpr std::uint64_t max_slot_size = std::uint64_t{64} << 20;
constexpr std::int64_t max_slots_per_class = 65536;
constexpr std::size_t max_slot_classes = transport::shm::max_slot_classes;

/// Holds a place in the file; 0:0 means "no place" and sorts first.
struct place {
  std::size_t line = 0;
  std::size_t column = 0;

  friend bool operator<(place a, place b) {
    return std::tie(a.line, a.column) < std::tie(b.line, b.column);
  }
};

place place_of(const toml::source_region& region) {
  return {region.begin.line, region.begin.column};
}

/// Carries the first problem out of the reader. It never leaves `load_cluster_config`:
/// throwing keeps each check a single line instead of threading optionals through every call.
struct rejected {
  config_error error;
};

/// Names one value: its node (null when the key is absent) and its key path.
struct field {
  const toml::node* node = nullptr;
  std::string key;

  explicit operator bool() const noexcept { return node != nullptr; }
};

std::string child_key(const std::string& path, std::string_view key) {
  return path.empty() ? std::string{key} : path + "." + std::string{key};
}

// Indices in key paths count from 1, as people count [[cell]] tables.
std::string index_key(const std::string& path, std::size_t index) {
  return path + "[" + std::to_string(index + 1) + "]";
}

// Turns a key path into the header that writes it: "group[1].cell" → "group.cell".
std::string header_of(const std::string& key) {
  std::string out;
  bool skipping = false;
  for (const char c : key) {
    if (c == '[')
      skipping = true;
    else if (c == ']')
      skipping = false;
    else if (!skipping)
      out += c;
  }
  return out;
}

std::string type_name(const toml::node& node) {
  switch (node.type()) {
  case toml::node_type::string:
    return "a string";
  case toml::node_type::integer:
    return "an integer";
  case toml::node_type::floating_point:
    return "a float";
  case toml::node_type::boolean:
    return "a boolean";
  case toml::node_type::date:
    return "a date";
  case toml::node_type::time:
    return "a time";
  case toml::node_type::date_time:
    return "a date-time";
  case toml::node_type::array:
    return "an array";
  case toml::node_type::table:
    return "a table";
  case toml::node_type::none:
    break;
  }
  return "nothing";
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (const auto& part : parts) {
    if (!out.empty())
      out += separator;
    out += part;
  }
  return out;
}

// Names are registry keys and appear in `node/name` addresses and in JSON events, so they
// stay plain: no spaces, no slashes, nothing to quote.
bool is_plain_name(std::string_view name) {
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

template <class Rep, class Period>
std::string show(std::chrono::duration<Rep, Period> d) {
  return apps::format_duration(std::chrono::duration_cast<nanoseconds>(d));
}

/// Reads one parsed document into a cluster_config, stopping at the first problem.
class reader {
public:
  reader(const fs::path& file, const fs::path& program_dir, std::string search_path,
         const toml::table& doc, const host_identity& host)
      : file_{file}
      , program_dir_{program_dir}
      , search_path_{std::move(search_path)}
      , doc_{doc}
      , host_{host} {
    std::error_code ec;
    const auto full = fs::absolute(file, ec);
    config_dir_ = (ec ? file : full).parent_path();
  }

  cluster_config read() {
    cluster_config out;
    out.source = file_;
    allow_only(doc_, "", {"version", "hub", "supervisor", "cell", "group", "load", "cluster"});
    read_version();
    read_hub(out);
    read_root(out.root);
    check_names();
    read_load(out);
    read_cluster(out);
    check_whole(out);
    return out;
  }

private:
  /// Remembers a name taken in the tree, to find duplicates once the tree is read.
  struct name_use {
    std::string name;
    place at;
    std::string key;
    // Set for the name a pool will give one of its replicas ("hasher-2").
    std::string pool;
    std::size_t replica = 0;
    // Set for the root's name when the file leaves it out.
    bool default_root = false;
  };

  /// Remembers where a cell or supervisor is written, to place `validate()` messages.
  struct spec_place {
    place at;
    std::string key;
  };

  // --- failing ------------------------------------------------------------------------

  [[noreturn]] void fail(place at, std::string key, std::string message) const {
    throw rejected{config_error{file_, at.line, at.column, std::move(key), std::move(message)}};
  }

  [[noreturn]] void fail(const field& f, std::string message) const {
    fail(place_of(f.node->source()), f.key, std::move(message));
  }

  [[noreturn]] void wrong_type(const field& f, std::string_view wanted) const {
    fail(f, fmt::format("expected {}, found {}", wanted, type_name(*f.node)));
  }

  // A table's place is its header; the document itself has none worth pointing at.
  place table_place(const toml::table& table) const {
    return &table == &doc_ ? place{} : place_of(table.source());
  }

  // --- generic readers ----------------------------------------------------------------

  void allow_only(const toml::table& table, const std::string& path,
                  std::initializer_list<std::string_view> keys) const {
    const toml::key* first = nullptr;
    for (auto&& [key, value] : table) {
      if (std::find(keys.begin(), keys.end(), key.str()) != keys.end())
        continue;
      // The table iterates in key order; the error should name the first in the file.
      if (first == nullptr || place_of(key.source()) < place_of(first->source()))
        first = &key;
    }
    if (first == nullptr)
      return;
    std::vector<std::string> names;
    for (const auto key : keys)
      names.emplace_back(key);
    fail(place_of(first->source()), child_key(path, first->str()),
         "unknown key; expected one of " + join(names, ", "));
  }

  static field field_of(const toml::table& table, const std::string& path, std::string_view key) {
    return {table.get(key), child_key(path, key)};
  }

  field required(const toml::table& table, const std::string& path, std::string_view key) const {
    auto f = field_of(table, path, key);
    if (!f)
      fail(table_place(table), f.key, "missing required key");
    return f;
  }

  const std::string& string_of(const field& f) const {
    if (const auto* value = f.node->as_string())
      return value->get();
    wrong_type(f, "a string");
  }

  bool bool_of(const field& f) const {
    if (const auto* value = f.node->as_boolean())
      return value->get();
    wrong_type(f, "a boolean");
  }

  std::int64_t integer_of(const field& f) const {
    if (const auto* value = f.node->as_integer())
      return value->get();
    wrong_type(f, "an integer");
  }

  double number_of(const field& f) const {
    if (const auto* value = f.node->as_floating_point())
      return value->get();
    if (const auto* value = f.node->as_integer())
      return static_cast<double>(value->get());
    wrong_type(f, "a number");
  }

  const toml::table& table_of(const field& f) const {
    if (const auto* value = f.node->as_table())
      return *value;
    wrong_type(f, "a table");
  }

  const toml::array& array_of(const field& f) const {
    if (const auto* value = f.node->as_array())
      return *value;
    wrong_type(f, "an array");
  }

  // A string the operating system gets (a path, an argument, an environment entry) ends at
  // its first NUL there, so the process would run with something the file does not say.
  const std::string& os_string_of(const field& f) const {
    const auto& text = string_of(f);
    if (text.find('\0') != std::string::npos)
      fail(f, "must not hold a NUL character (\\u0000): the operating system would cut the "
              "string there");
    return text;
  }

  std::vector<std::string> os_strings_of(const field& f) const {
    std::vector<std::string> out;
    const auto& items = array_of(f);
    for (std::size_t i = 0; i < items.size(); ++i)
      out.push_back(os_string_of({&items[i], index_key(f.key, i)}));
    return out;
  }

  /// Holds one table of an array of tables ([[cell]]) and its key path ("cell[2]").
  struct table_entry {
    const toml::table* table;
    std::string key;
  };

  std::vector<table_entry> tables_of(const toml::table& table, const std::string& path,
                                     std::string_view key) const {
    const auto f = field_of(table, path, key);
    if (!f)
      return {};
    const auto* items = f.node->as_array();
    if (items == nullptr)
      wrong_type(f, fmt::format("an array of tables ([[{}]])", header_of(f.key)));
    std::vector<table_entry> out;
    for (std::size_t i = 0; i < items->size(); ++i) {
      const field item{&(*items)[i], index_key(f.key, i)};
      out.push_back({&table_of(item), item.key});
    }
    return out;
  }

  enum class zero { allowed, refused };

  nanoseconds duration_of(const field& f, zero rule) const {
    const auto* value = f.node->as_string();
    if (value == nullptr)
      wrong_type(f, "a duration such as \"250ms\"");
    const std::string_view text = value->get();
    if (!text.empty() && text.front() == '-' && apps::parse_duration(text.substr(1)))
      fail(f, fmt::format("must not be negative, got \"{}\"", text));
    const auto parsed = apps::parse_duration(text);
    if (!parsed)
      fail(f, fmt::format("bad duration \"{}\"; write a number and a unit (ns, us, ms, s, m, h), "
                          "e.g. \"250ms\"",
                          text));
    if (rule == zero::refused && parsed->count() == 0)
      fail(f, fmt::format("must be positive, got \"{}\"", text));
    return *parsed;
  }

  milliseconds millis_of(const field& f, zero rule) const {
    const auto value = duration_of(f, rule);
    // Truncating "1500us" to 1ms would run something other than what the file says.
    if (value % milliseconds{1} != nanoseconds::zero())
      fail(f, fmt::format("\"{}\" is not a whole number of milliseconds", show(value)));
    return std::chrono::duration_cast<milliseconds>(value);
  }

  std::uint64_t size_of(const field& f) const {
    if (const auto* value = f.node->as_integer()) {
      if (value->get() < 0)
        fail(f, fmt::format("must not be negative, got {}", value->get()));
      return static_cast<std::uint64_t>(value->get());
    }
    if (const auto* value = f.node->as_string()) {
      if (auto parsed = parse_byte_size(value->get()))
        return *parsed;
      fail(f, fmt::format("bad size \"{}\"; write a number of bytes or a whole number and a unit "
                          "(B, KiB, MiB, GiB), e.g. \"4KiB\"",
                          value->get()));
    }
    wrong_type(f, "a size (an integer or a string such as \"4KiB\")");
  }

  template <class Enum>
  Enum word_of(const field& f, std::string_view what, std::initializer_list<Enum> values) const {
    const auto& text = string_of(f);
    std::vector<std::string> words;
    for (const auto value : values) {
      if (ac::to_string(value) == text)
        return value;
      words.emplace_back(ac::to_string(value));
    }
    fail(f, fmt::format("unknown {} \"{}\"; expected one of {}", what, text, join(words, ", ")));
  }

  std::string name_of(const field& f) {
    const auto& name = string_of(f);
    if (name.empty())
      fail(f, "must not be empty");
    if (!is_plain_name(name))
      fail(f, fmt::format("\"{}\" may hold only letters, digits, '-', '_' and '.'", name));
    names_.push_back({name, place_of(f.node->source()), f.key, {}, 0, false});
    return name;
  }

  // --- sections -----------------------------------------------------------------------

  void read_version() const {
    const auto f = field_of(doc_, "", "version");
    if (!f)
      fail(place{}, f.key, "missing required key; write version = 1 at the top of the file");
    const auto version = integer_of(f);
    if (version != 1)
      fail(f, fmt::format("unsupported version {}; this cellhub reads version 1", version));
  }

  void read_hub(cluster_config& out) {
    const auto f = field_of(doc_, "", "hub");
    if (!f)
      fail(place{}, f.key, "missing required table [hub]");
    const auto& hub = table_of(f);
    hub_ = &hub;
    allow_only(hub, "hub", {"path", "max_peers", "ring_capacity", "slot_class"});

    const auto path = required(hub, "hub", "path");
    out.hub_path = os_string_of(path);
    if (out.hub_path.empty())
      fail(path, "must not be empty");
    if (!fs::path{out.hub_path}.is_absolute())
      fail(path, fmt::format("must be an absolute path, got \"{}\"", out.hub_path));

    if (const auto peers = field_of(hub, "hub", "max_peers")) {
      const auto value = integer_of(peers);
      if (value < 1 || value > max_peers_limit)
        fail(peers, fmt::format("must be within 1..{}, got {}", max_peers_limit, value));
      out.hub.max_peers = static_cast<std::uint16_t>(value);
    }
    if (const auto ring = field_of(hub, "hub", "ring_capacity")) {
      const auto value = integer_of(ring);
      if (value < 2 || value > max_ring_capacity || (value & (value - 1)) != 0)
        fail(ring,
             fmt::format("must be a power of two within 2..{}, got {}", max_ring_capacity, value));
      out.hub.ring_capacity = static_cast<std::uint32_t>(value);
    }
    if (const auto classes = field_of(hub, "hub", "slot_class"))
      out.hub.slot_classes = read_slot_classes(hub, classes);
  }

  std::vector<transport::slot_class> read_slot_classes(const toml::table& hub,
                                                       const field& classes) const {
    const auto entries = tables_of(hub, "hub", "slot_class");
    if (entries.empty() || entries.size() > max_slot_classes)
      fail(classes, fmt::format("needs 1 to {} [[hub.slot_class]] tables, found {}",
                                max_slot_classes, entries.size()));
    std::vector<transport::slot_class> out;
    std::uint64_t previous = 0;
    for (const auto& entry : entries) {
      allow_only(*entry.table, entry.key, {"size", "count"});
      const auto size_field = required(*entry.table, entry.key, "size");
      const auto size = size_of(size_field);
      if (size < 64 || size > max_slot_size || size % 64 != 0)
        fail(size_field, fmt::format("must be a multiple of 64 within 64B..{}, got {}",
                                     format_byte_size(max_slot_size), format_byte_size(size)));
      if (size <= previous)
        fail(size_field, fmt::format("must be larger than the previous class ({}), got {}",
                                     format_byte_size(previous), format_byte_size(size)));
      previous = size;
      const auto count_field = required(*entry.table, entry.key, "count");
      const auto count = integer_of(count_field);
      if (count < 1 || count > max_slots_per_class)
        fail(count_field, fmt::format("must be within 1..{}, got {}", max_slots_per_class, count));
      out.push_back({static_cast<std::uint32_t>(size), static_cast<std::uint32_t>(count)});
    }
    return out;
  }

  void read_root(ac::supervisor_spec& root) {
    const toml::table* settings = &no_settings_;
    if (const auto f = field_of(doc_, "", "supervisor"))
      settings = &table_of(f);
    allow_only(*settings, "supervisor", {"name", "strategy", "max_restarts", "period", "replicas"});
    read_supervisor_settings(*settings, "supervisor", root, true);
    // The root's children are the top-level [[cell]] and [[group]] tables.
    read_children(doc_, "", table_place(*settings), root);
    root_name_ = root.name;
  }

  ac::supervisor_spec read_group(const toml::table& table, const std::string& path) {
    allow_only(
        table, path,
        {"name", "strategy", "max_restarts", "period", "replicas", "restart", "cell", "group"});
    ac::supervisor_spec spec;
    read_supervisor_settings(table, path, spec, false);
    read_children(table, path, table_place(table), spec);
    return spec;
  }

  void read_supervisor_settings(const toml::table& table, const std::string& path,
                                ac::supervisor_spec& spec, bool is_root) {
    if (const auto name = field_of(table, path, "name"); name || !is_root) {
      spec.name = name_of(required(table, path, "name"));
    } else {
      spec.name = "root";
      names_.push_back({spec.name, place{}, name.key, {}, 0, true});
    }
    specs_.emplace(spec.name, spec_place{table_place(table), path});

    if (const auto f = field_of(table, path, "strategy"))
      spec.strategy =
          word_of(f, "strategy",
                  {ac::restart_strategy::one_for_one, ac::restart_strategy::one_for_all,
                   ac::restart_strategy::rest_for_one, ac::restart_strategy::simple_one_for_one});
    if (const auto f = field_of(table, path, "max_restarts")) {
      const auto value = integer_of(f);
      if (value < 0)
        fail(f, fmt::format("must not be negative, got {}", value));
      if (value > std::numeric_limits<int>::max())
        fail(f, fmt::format("must be at most {}, got {}", std::numeric_limits<int>::max(), value));
      spec.max_restarts = static_cast<int>(value);
    }
    if (const auto f = field_of(table, path, "period"))
      spec.period = millis_of(f, zero::refused);
    if (const auto f = field_of(table, path, "restart"); f && !is_root)
      spec.restart = restart_of(f);
    if (const auto f = field_of(table, path, "replicas")) {
      const auto value = integer_of(f);
      if (spec.strategy != ac::restart_strategy::simple_one_for_one)
        fail(f, fmt::format("applies only to strategy simple_one_for_one, not \"{}\"",
                            ac::to_string(spec.strategy)));
      if (value < 0 || value > max_peers_limit)
        fail(f, fmt::format("must be within 0..{}, got {}", max_peers_limit, value));
      spec.replicas = static_cast<std::size_t>(value);
    }
  }

  ac::restart_type restart_of(const field& f) const {
    return word_of(
        f, "restart type",
        {ac::restart_type::permanent, ac::restart_type::transient, ac::restart_type::temporary});
  }

  // Reads the [[cell]] and [[group]] tables of `table` into `spec`, in file order; `at` places
  // a problem with the supervisor as a whole.
  void read_children(const toml::table& table, const std::string& path, place at,
                     ac::supervisor_spec& spec) {
    const auto cells = tables_of(table, path, "cell");
    const auto groups = tables_of(table, path, "group");
    if (spec.strategy == ac::restart_strategy::simple_one_for_one) {
      read_pool_template(cells, groups, path, at, spec);
      return;
    }
    struct entry {
      place at;
      bool is_group;
      const table_entry* source;
    };
    std::vector<entry> order;
    for (const auto& cell : cells)
      order.push_back({place_of(cell.table->source()), false, &cell});
    for (const auto& group : groups)
      order.push_back({place_of(group.table->source()), true, &group});
    // Two arrays of tables interleave in the file; the start order is the file's order.
    std::stable_sort(order.begin(), order.end(),
                     [](const entry& a, const entry& b) { return a.at < b.at; });
    for (const auto& child : order) {
      if (child.is_group) {
        spec.children.emplace_back(read_group(*child.source->table, child.source->key));
      } else {
        spec.children.emplace_back(read_cell(*child.source->table, child.source->key));
        ++cells_;
      }
    }
  }

  void read_pool_template(const std::vector<table_entry>& cells,
                          const std::vector<table_entry>& groups, const std::string& path, place at,
                          ac::supervisor_spec& spec) {
    if (!groups.empty())
      fail(table_place(*groups.front().table), groups.front().key,
           "a simple_one_for_one supervisor runs replicas of one [[cell]] and has no "
           "[[group]]");
    if (cells.empty())
      fail(at, child_key(path, "cell"),
           fmt::format("a simple_one_for_one supervisor needs one [[{}]], the template of its "
                       "replicas",
                       header_of(child_key(path, "cell"))));
    if (cells.size() > 1)
      fail(table_place(*cells[1].table), cells[1].key,
           "a simple_one_for_one supervisor has exactly one [[cell]], the template of its "
           "replicas; this is a second one");
    auto cell = read_cell(*cells.front().table, cells.front().key);
    const auto name_at = place_of(cells.front().table->get("name")->source());
    // The pool names replica n "<template>-<n>" (supervision_core::resize); those names
    // join the tree-wide registry, so they must not clash with any other.
    for (std::size_t n = 1; n <= spec.replicas; ++n) {
      auto replica = fmt::format("{}-{}", cell.name, n);
      cell_names_.insert(replica);
      names_.push_back(
          {std::move(replica), name_at, child_key(cells.front().key, "name"), spec.name, n, false});
    }
    cells_ += spec.replicas;
    spec.children.emplace_back(std::move(cell));
  }

  ac::cell_spec read_cell(const toml::table& table, const std::string& path) {
    allow_only(table, path,
               {"name", "binary", "user", "group", "sealed_image", "args", "env", "restart",
                "start_timeout", "shutdown_timeout", "hang_timeout", "backoff", "on_intensity",
                "during_restart", "hold_capacity", "max_pending", "request_timeout"});
    ac::cell_spec cell;
    cell.name = name_of(required(table, path, "name"));
    cell_names_.insert(cell.name);
    specs_.emplace(cell.name, spec_place{table_place(table), path});

    const auto binary = required(table, path, "binary");
    std::string problem;
    const auto found =
        find_binary(os_string_of(binary), config_dir_, program_dir_, search_path_, problem);
    if (!found)
      fail(binary, problem);
    cell.binary = found->string();
    cell.user = read_identity(table, path, cell.name);
    if (const auto f = field_of(table, path, "sealed_image"))
      cell.sealed_image = bool_of(f);

    if (const auto f = field_of(table, path, "args"))
      cell.args = os_strings_of(f);
    if (const auto f = field_of(table, path, "env")) {
      for (auto&& [key, value] : table_of(f)) {
        if (key.str().find('\0') != std::string_view::npos)
          // The name itself cannot go into the key path: the message would carry the NUL.
          fail(place_of(key.source()), f.key,
               "an environment variable name must not hold a NUL character (\\u0000)");
        const field item{&value, child_key(f.key, key.str())};
        if (key.str().empty() || key.str().find('=') != std::string_view::npos)
          fail(place_of(key.source()), item.key,
               "an environment variable name must not be empty or hold '='");
        cell.env.emplace_back(std::string{key.str()}, os_string_of(item));
      }
    }
    if (const auto f = field_of(table, path, "restart"))
      cell.restart = restart_of(f);
    if (const auto f = field_of(table, path, "start_timeout"))
      cell.start_timeout = millis_of(f, zero::refused);
    if (const auto f = field_of(table, path, "shutdown_timeout"))
      cell.shutdown_timeout = millis_of(f, zero::refused);
    if (const auto f = field_of(table, path, "hang_timeout"))
      cell.hang_timeout = millis_of(f, zero::allowed);
    if (const auto f = field_of(table, path, "backoff"))
      cell.backoff = read_backoff(table_of(f), f.key);
    if (const auto f = field_of(table, path, "on_intensity"))
      cell.on_intensity =
          word_of(f, "intensity action",
                  {ac::intensity_action::escalate, ac::intensity_action::quarantine});
    if (const auto f = field_of(table, path, "during_restart"))
      cell.during_restart =
          word_of(f, "delivery mode", {ac::restart_delivery::hold, ac::restart_delivery::fail});
    if (const auto f = field_of(table, path, "hold_capacity")) {
      const auto value = integer_of(f);
      if (value < 0)
        fail(f, fmt::format("must not be negative, got {}", value));
      if (value == 0 && cell.during_restart == ac::restart_delivery::hold)
        fail(f, "must be positive while during_restart is \"hold\"");
      cell.hold_capacity = static_cast<std::size_t>(value);
    }
    if (const auto f = field_of(table, path, "max_pending")) {
      const auto value = integer_of(f);
      if (value <= 0)
        fail(f, fmt::format("must be positive, got {}", value));
      cell.max_pending = static_cast<std::size_t>(value);
    }
    if (const auto f = field_of(table, path, "request_timeout"))
      cell.request_timeout = millis_of(f, zero::refused);
    if (auto guard = cell.validate())
      fail(table_place(table), path, *guard);
    return cell;
  }

  // Reads a `user` or `group` value (`what` names which): an integer is an id, checked
  // against the range here; a string goes to the database as it is (a name, or digits).
  std::variant<std::uint32_t, std::string> account_of(const field& f, std::string_view what) const {
    if (const auto* id = f.node->as_integer()) {
      if (id->get() < 0 || id->get() > max_account_id)
        fail(f, fmt::format("{} id must be within 0..{}, got {}", what, max_account_id, id->get()));
      return static_cast<std::uint32_t>(id->get());
    }
    if (!f.node->is_string())
      wrong_type(f, fmt::format("a {0} name or a numeric {0} id", what));
    const auto& text = os_string_of(f);
    if (text.empty())
      fail(f, "must not be empty");
    return text;
  }

  // Reads `user` and `group` into the identity the cell runs as; nothing when neither is
  // given (the cell runs as the host does).
  std::optional<transport::spawn_identity> read_identity(const toml::table& table,
                                                         const std::string& path,
                                                         const std::string& cell_name) const {
    const auto user = field_of(table, path, "user");
    const auto group = field_of(table, path, "group");
    if (!user) {
      if (group)
        fail(group, "needs user: a cell without user runs as the host runs; write user = ... "
                    "too (the host's own user needs no privilege)");
      return std::nullopt;
    }
    std::string problem;
    const auto user_ref = account_of(user, "user");
    const auto* user_id = std::get_if<std::uint32_t>(&user_ref);
    const auto account = user_id != nullptr ? find_user(static_cast<uid_t>(*user_id), problem)
                                            : find_user(std::get<std::string>(user_ref), problem);
    if (!account)
      fail(user, problem);

    gid_t gid = 0;
    if (group) {
      const auto group_ref = account_of(group, "group");
      const auto* group_id = std::get_if<std::uint32_t>(&group_ref);
      const auto found = group_id != nullptr
                             ? std::optional<gid_t>{*group_id}
                             : find_group(std::get<std::string>(group_ref), problem);
      if (!found)
        fail(group, problem);
      gid = *found;
    } else if (account->primary_group) {
      gid = *account->primary_group;
    } else {
      fail(user, fmt::format("user id {} has no entry in the user database, so it has no "
                             "primary group; set group too",
                             account->uid));
    }

    transport::spawn_identity identity{account->uid, gid, groups_of(*account, gid)};
    // The host's own identity is no change: the cell runs as it would without `user`, and
    // the spawn makes no set*id call (which would need the privilege even then).
    if (host_.already_is(identity))
      return std::nullopt;
    if (!host_.can_change) {
      // Point at what differs from the host: the user, or else the group written.
      const bool same_user = identity.uid == host_.uid;
      const auto& culprit = same_user && group ? group : user;
      std::string who = fmt::format("user {}", describe_user(identity.uid));
      if (group)
        who += fmt::format(" and group {}", describe_group(identity.gid));
      fail(culprit, fmt::format("cell \"{}\" wants to run as {}; that needs root (or "
                                "CAP_SETUID/CAP_SETGID), and this cellhub runs as {} without "
                                "them{}",
                                cell_name, who, describe_user(host_.uid),
                                same_user && identity.gid == host_.gid
                                    ? " (the user's groups differ from the ones this cellhub "
                                      "runs with)"
                                    : ""));
    }
    return identity;
  }

  ac::backoff_config read_backoff(const toml::table& table, const std::string& path) const {
    allow_only(table, path, {"min", "max", "jitter", "reset_after"});
    using duration = ac::backoff_config::duration;
    ac::backoff_config backoff;
    const auto min = field_of(table, path, "min");
    if (min)
      backoff.min_delay = std::chrono::duration_cast<duration>(duration_of(min, zero::allowed));
    const auto max = field_of(table, path, "max");
    if (max)
      backoff.max_delay = std::chrono::duration_cast<duration>(duration_of(max, zero::allowed));
    if (const auto f = field_of(table, path, "jitter")) {
      backoff.jitter = number_of(f);
      // Written as a negated range test so that NaN fails it too.
      if (!(backoff.jitter >= 0.0 && backoff.jitter <= 1.0))
        fail(f, fmt::format("must be within [0, 1], got {}", backoff.jitter));
    }
    if (const auto f = field_of(table, path, "reset_after"))
      backoff.reset_after = std::chrono::duration_cast<duration>(duration_of(f, zero::allowed));
    if (backoff.min_delay > backoff.max_delay) {
      // Point at the value the file wrote; the other one is the default.
      if (min)
        fail(min, fmt::format("min ({}) exceeds max ({})", show(backoff.min_delay),
                              show(backoff.max_delay)));
      fail(max, fmt::format("max ({}) is below min ({})", show(backoff.max_delay),
                            show(backoff.min_delay)));
    }
    if (auto guard = backoff.validate())
      fail(table_place(table), path, *guard);
    return backoff;
  }

  void read_load(cluster_config& out) const {
    const auto f = field_of(doc_, "", "load");
    if (!f)
      return;
    const auto& load = table_of(f);
    allow_only(load, "load", {"rate", "payload", "targets", "timeout"});
    if (const auto rate = field_of(load, "load", "rate")) {
      const auto value = number_of(rate);
      if (!std::isfinite(value))
        fail(rate, fmt::format("must be a finite number, got {}", value));
      if (value < 0)
        fail(rate, fmt::format("must not be negative, got {}", value));
      out.load.rate = value;
    }
    if (const auto payload = field_of(load, "load", "payload")) {
      const auto value = size_of(payload);
      const std::uint64_t largest = out.hub.slot_classes.back().slot_size;
      if (value > largest)
        fail(payload, fmt::format("{} does not fit the largest slot class ({})",
                                  format_byte_size(value), format_byte_size(largest)));
      out.load.payload_bytes = static_cast<std::size_t>(value);
    } else if (const std::uint64_t largest = out.hub.slot_classes.back().slot_size;
               out.load.payload_bytes > largest) {
      // The default must fit too, or every request of the load would fail.
      fail(table_place(load), "load.payload",
           fmt::format("the default payload ({}) does not fit the largest slot class ({}); "
                       "set a smaller payload",
                       format_byte_size(out.load.payload_bytes), format_byte_size(largest)));
    }
    if (const auto targets = field_of(load, "load", "targets")) {
      const auto& items = array_of(targets);
      for (std::size_t i = 0; i < items.size(); ++i) {
        const field item{&items[i], index_key(targets.key, i)};
        const auto& name = string_of(item);
        if (cell_names_.count(name) == 0)
          fail(item, fmt::format("names no cell: \"{}\"", name));
        if (std::find(out.load.targets.begin(), out.load.targets.end(), name) !=
            out.load.targets.end())
          fail(item, fmt::format("lists \"{}\" twice", name));
        out.load.targets.push_back(name);
      }
    }
    if (const auto timeout = field_of(load, "load", "timeout"))
      out.load.timeout = millis_of(timeout, zero::refused);
  }

  // Reads a cluster address ("HOST:PORT", "[v6]:PORT"); the host goes to the resolver, so
  // it is an OS string.
  cluster::node_address address_of(const field& f) const {
    const auto& text = os_string_of(f);
    cluster::node_address address;
    if (!cluster::parse_node_address(text, address))
      fail(f, fmt::format("bad address \"{}\"; write HOST:PORT with a port within 0..65535, "
                          "e.g. \"127.0.0.1:7101\" (\"[::1]:7101\" for IPv6)",
                          text));
    return address;
  }

  // The [cluster] table: how this host joins other cellhub hosts. It has no TLS key on
  // purpose: the links use the control port's credentials (--tls-dir), or --insecure.
  void read_cluster(cluster_config& out) const {
    const auto f = field_of(doc_, "", "cluster");
    if (!f)
      return;
    const auto& table = table_of(f);
    allow_only(table, "cluster",
               {"node", "listen", "join", "heartbeat_interval", "heartbeat_timeout", "join_retry"});
    cluster::cluster_options options;

    const auto node = required(table, "cluster", "node");
    options.node = string_of(node);
    if (auto problem = cluster::check_node_name(options.node); !problem.empty())
      fail(node, std::move(problem));

    options.listen = address_of(required(table, "cluster", "listen"));

    if (const auto join = field_of(table, "cluster", "join")) {
      const auto& items = array_of(join);
      for (std::size_t i = 0; i < items.size(); ++i) {
        const field item{&items[i], index_key(join.key, i)};
        auto address = address_of(item);
        if (address.port == 0)
          fail(item, fmt::format("\"{}\" has port 0, which no node listens on; write the other "
                                 "node's cluster port",
                                 address.to_string()));
        if (address == options.listen)
          fail(item, fmt::format("\"{}\" is this node's own listen address", address.to_string()));
        const auto earlier = std::find(options.join.begin(), options.join.end(), address);
        if (earlier != options.join.end())
          fail(item, fmt::format("lists \"{}\" twice (also {})", address.to_string(),
                                 index_key(join.key, static_cast<std::size_t>(
                                                         earlier - options.join.begin()))));
        options.join.push_back(std::move(address));
      }
    }

    const auto interval = field_of(table, "cluster", "heartbeat_interval");
    if (interval)
      options.heartbeat_interval = millis_of(interval, zero::refused);
    const auto timeout = field_of(table, "cluster", "heartbeat_timeout");
    if (timeout)
      options.heartbeat_timeout = millis_of(timeout, zero::refused);
    if (options.heartbeat_timeout <= options.heartbeat_interval) {
      // Point at the value the file wrote; the other one may be the default.
      if (timeout)
        fail(timeout,
             fmt::format("heartbeat_timeout ({}) must be greater than heartbeat_interval ({})",
                         show(options.heartbeat_timeout), show(options.heartbeat_interval)));
      fail(interval,
           fmt::format("heartbeat_interval ({}) must be less than heartbeat_timeout "
                       "({}, the default); set a longer heartbeat_timeout",
                       show(options.heartbeat_interval), show(options.heartbeat_timeout)));
    }
    if (const auto retry = field_of(table, "cluster", "join_retry"))
      options.join_retry = millis_of(retry, zero::refused);
    out.cluster = std::move(options);
  }

  // --- whole-tree checks ----------------------------------------------------------------

  // Names are global (the registry spans the tree), so the later of two equal names is
  // reported, pointing back at the earlier one.
  void check_names() const {
    std::vector<const name_use*> order;
    for (const auto& use : names_)
      order.push_back(&use);
    std::stable_sort(order.begin(), order.end(),
                     [](const name_use* a, const name_use* b) { return a->at < b->at; });
    std::map<std::string_view, const name_use*> seen;
    for (const auto* use : order) {
      const auto [it, fresh] = seen.emplace(use->name, use);
      if (fresh)
        continue;
      const auto& first = *it->second;
      std::string where;
      if (first.default_root)
        where = "by the root supervisor (its default name)";
      else if (first.replica != 0)
        where = fmt::format("by replica {} of pool \"{}\" (line {})", first.replica, first.pool,
                            first.at.line);
      else
        where = fmt::format("at line {}", first.at.line);
      if (use->replica != 0)
        fail(
            use->at, use->key,
            fmt::format("replica {} of pool \"{}\" would be named \"{}\", which is already used {}",
                        use->replica, use->pool, use->name, where));
      fail(use->at, use->key, fmt::format("name \"{}\" is already used {}", use->name, where));
    }
  }

  void check_whole(const cluster_config& out) const {
    if (cells_ > out.hub.max_peers) {
      auto message =
          fmt::format("{} peers cannot hold the {} cells of the tree", out.hub.max_peers, cells_);
      if (const auto f = field_of(*hub_, "hub", "max_peers"))
        fail(f, std::move(message));
      fail(table_place(*hub_), "hub.max_peers", message + " (64 unless set)");
    }
    // The last guards: the libraries' own checks, in case they know more than this reader.
    if (auto geometry = transport::hub_geometry::compute(out.hub); !geometry)
      fail(table_place(*hub_), "hub", geometry.error().detail);
    if (auto problem = out.root.validate()) {
      const auto& where = locate(*problem);
      fail(where.at, where.key, *problem);
    }
  }

  // Finds the table a `validate()` message is about: it names the spec as "cell 'x'" or
  // "supervisor 'x'"; anything else is put on the root.
  const spec_place& locate(const std::string& problem) const {
    for (const std::string_view prefix : {"cell '", "supervisor '"}) {
      if (problem.rfind(prefix, 0) != 0)
        continue;
      const auto end = problem.find('\'', prefix.size());
      if (end == std::string::npos)
        break;
      const auto it = specs_.find(problem.substr(prefix.size(), end - prefix.size()));
      if (it != specs_.end())
        return it->second;
    }
    return specs_.at(root_name_);
  }

  fs::path file_;
  fs::path config_dir_;
  fs::path program_dir_;
  std::string search_path_;
  const toml::table& doc_;
  const host_identity& host_;
  const toml::table* hub_ = nullptr;
  // Stands in for a missing [supervisor] table, so the root reads its defaults.
  toml::table no_settings_;
  std::string root_name_;
  std::vector<name_use> names_;
  std::map<std::string, spec_place> specs_;
  std::set<std::string> cell_names_;
  std::size_t cells_ = 0;
};

} // namespace

load_result load_cluster_config(const fs::path& file, const fs::path& program_dir) {
  return load_cluster_config(file, program_dir, host_identity::current());
}

load_result load_cluster_config(const fs::path& file, const fs::path& program_dir,
                                const host_identity& host) {
  auto file_problem = [&file](std::string message) {
    return config_error{file, 0, 0, {}, std::move(message)};
  };
  std::error_code ec;
  if (fs::is_directory(file, ec))
    return file_problem("is a directory, not a configuration file");
  std::ifstream in{file, std::ios::binary};
  if (!in)
    return file_problem(fmt::format("cannot open: {}", std::strerror(errno)));
  const std::string text{std::istreambuf_iterator<char>{in}, std::istreambuf_iterator<char>{}};
  if (in.bad())
    return file_problem("cannot read the file");

  toml::table doc;
  try {
    doc = toml::parse(text, std::string{file.string()});
  } catch (const toml::parse_error& e) {
    const auto at = e.source().begin;
    return config_error{file, at.line, at.column, {}, std::string{e.description()}};
  }

  const char* search_path = std::getenv("PATH");
  try {
    reader r{file, program_dir, search_path == nullptr ? "" : search_path, doc, host};
    return r.read();
  } catch (rejected& problem) {
    return std::move(problem.error);
  }
}

} // namespace cellhub::cli
