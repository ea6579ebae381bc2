// Server statistics as Prometheus text (exposition format 0.0.4).
#include "beanpole/admin/exposition.hpp"

#include <charconv>
#include <cstdint>
#include <map>
#include <optional>
#include <string_view>
#include <variant>

#include "beanpole/error.hpp"

namespace beanpole {
namespace {

/// One metric family: its HELP and TYPE lines and its samples, in the order they were added.
struct family {
  std::string name;
  std::string help;
  bool counter = false;
  std::string samples;
};

class families {
 public:
  family& get(const std::string& name, std::string_view help, bool counter) {
    const auto [it, added] = index_.try_emplace(name, list_.size());
    if (added) list_.push_back(family{name, std::string(help), counter, {}});
    return list_[it->second];
  }
  const std::vector<family>& list() const { return list_; }

 private:
  std::vector<family> list_;
  std::map<std::string, std::size_t, std::less<>> index_;
};

/// `v` with `\` and newline escaped, and `"` too when `quote` (label values; HELP text leaves
/// quotes alone), as the text format requires.
std::string escaped(std::string_view v, bool quote) {
  std::string out;
  out.reserve(v.size());
  for (const char ch : v) {
    if (ch == '\\') {
      out += "\\\\";
    } else if (ch == '\n') {
      out += "\\n";
    } else if (ch == '"' && quote) {
      out += "\\\"";
    } else {
      out += ch;
    }
  }
  return out;
}

std::string label_value(std::string_view v) {
  return escaped(v, true);
}
std::string help_text(std::string_view v) {
  return escaped(v, false);
}

/// A metric name from a server key: '-' becomes '_', anything else outside [a-zA-Z0-9_] too.
std::string metric_suffix(std::string_view key) {
  std::string out(key);
  for (char& ch : out) {
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '_';
    if (!ok) ch = '_';
  }
  return out;
}

/// The field's value when it is an integer (a known integer field, or unknown text of digits).
std::optional<std::uint64_t> integer_of(const proto::stats_field& f) {
  if (const auto* n = std::get_if<std::uint64_t>(&f.value)) return *n;
  if (f.known) return std::nullopt;
  const auto* text = std::get_if<std::string_view>(&f.value);
  if (text == nullptr || text->empty()) return std::nullopt;
  std::uint64_t n = 0;
  const auto [end, err] = std::from_chars(text->data(), text->data() + text->size(), n);
  if (err != std::errc{} || end != text->data() + text->size()) return std::nullopt;
  return n;
}

bool is_counter(std::string_view key) {
  return key.starts_with("total-") || key.starts_with("cmd-");
}

void add_fields(families& out, const std::vector<proto::stats_field>& fields,
                std::string_view prefix, std::string_view command, const std::string& labels) {
  for (const auto& f : fields) {
    const auto value = integer_of(f);
    if (!value) continue;
    std::string name(prefix);
    name += metric_suffix(f.key);
    std::string help("beanstalkd ");
    help += command;
    help += ": ";
    help += f.key;
    family& fam = out.get(name, help, is_counter(f.key));
    fam.samples += name + '{' + labels + "} " + std::to_string(*value) + '\n';
  }
}

}  // namespace

server_snapshot take_snapshot(client& c, std::string address, std::error_code& ec) {
  server_snapshot snap;
  snap.address = std::move(address);
  ec.clear();
  snap.stats = c.stats(ec);
  if (ec) {
    snap.stats = {};
    return snap;
  }
  snap.up = true;
  const auto names = c.list_tubes(ec);
  if (ec) return snap;
  for (const auto& name : names) {
    tube_name t;
    if (tube_name::make(name, t)) continue;
    auto st = c.stats_tube(t, ec);
    if (ec == errc::not_found) {  // deleted between list-tubes and stats-tube
      ec.clear();
      continue;
    }
    if (ec) return snap;
    snap.tubes.push_back(std::move(st));
  }
  return snap;
}

std::string format_prometheus(const std::vector<server_snapshot>& servers) {
  families out;
  for (const auto& s : servers) {
    const std::string server = "server=\"" + label_value(s.address) + '"';
    family& up = out.get("beanstalkd_up", "Whether the last scrape of the server succeeded", false);
    up.samples += "beanstalkd_up{" + server + "} " + (s.up ? "1" : "0") + '\n';
    if (!s.up) continue;
    add_fields(out, proto::fields_of(s.stats), "beanstalkd_", "stats", server);
    for (const auto& t : s.tubes) {
      add_fields(out, proto::fields_of(t), "beanstalkd_tube_", "stats-tube",
                 server + ",tube=\"" + label_value(t.name) + '"');
    }
  }
  std::string text;
  for (const auto& f : out.list()) {
    text += "# HELP " + f.name + ' ' + help_text(f.help) + '\n';
    text += "# TYPE " + f.name + (f.counter ? " counter\n" : " gauge\n");
    text += f.samples;
  }
  return text;
}

}  // namespace beanpole
