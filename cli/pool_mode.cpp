#include "pool_mode.hpp"

#include <algorithm>
#include <optional>
#include <set>

#include <fmt/format.h>

#include "args.hpp"
#include "errors.hpp"

namespace beanpole::cli {

std::vector<pool_server> pool_servers(const context& ctx) {
  std::vector<pool_server> out;
  std::set<std::string> seen;
  for (const auto& text : ctx.addresses()) {
    endpoint ep;
    if (endpoint::parse(text, ep)) {
      throw usage_error(fmt::format(
          "invalid address '{}' (--addr): expected HOST:PORT, [IPV6]:PORT, tls://HOST:PORT or "
          "unix:PATH",
          text));
    }
    if (!seen.insert(text).second) {
      throw usage_error(fmt::format("address '{}' given twice", text));
    }
    ctx.apply_tls(ep);
    out.push_back({ep, text, 1});
  }
  const bool any_tls =
      std::any_of(out.begin(), out.end(), [](const pool_server& s) { return s.address.is_tls(); });
  if (ctx.has_tls_options() && !any_tls) {
    throw usage_error(
        "--tls-ca, --tls-cert, --tls-key and --tls-server-name need a tls:// address");
  }
  return out;
}

void validate_servers(const context& ctx) {
  if (!ctx.several()) return ctx.validate();
  (void)pool_servers(ctx);
  (void)ctx.connection();
}

placement_policy parse_placement(const std::string& text) {
  if (text == "round-robin") return placement_policy::round_robin;
  if (text == "tube") return placement_policy::by_tube;
  throw usage_error(fmt::format("invalid --placement '{}': expected round-robin or tube", text));
}

std::unique_ptr<pool> open_pool(const context& ctx, placement_policy placement) {
  auto servers = pool_servers(ctx);
  pool_options o;
  o.placement = placement;
  static_cast<connection_options&>(o.client) = ctx.connection();
  std::string names;
  for (const auto& s : servers) names += (names.empty() ? "" : ", ") + s.name;
  try {
    return std::make_unique<pool>(std::move(servers), std::move(o));
  } catch (const std::system_error& e) {
    throw command_failure(e.code(), "connect to " + names);
  }
}

job_ref parse_job_ref(const context& ctx, const std::string& text) {
  if (!ctx.several()) return {parse_job_id(text), {}};
  pool_job_id id;
  if (pool_job_id::parse(text, id)) {
    throw usage_error(fmt::format(
        "invalid job '{}': with several servers a job is ADDR/ID (as put prints it)", text));
  }
  for (const auto& s : ctx.addresses()) {
    if (s == id.server) return {id.id, id.server};
  }
  throw usage_error(
      fmt::format("job '{}': '{}' is not one of the servers given with -a", text, id.server));
}

client connect_for(const context& ctx, const job_ref& ref) {
  if (ref.server.empty()) return ctx.connect();
  endpoint ep;
  (void)endpoint::parse(ref.server, ep);  // checked by parse_job_ref
  ctx.apply_tls(ep);
  client c(ctx.connection());
  std::error_code ec;
  c.connect(ep, ec);
  check(ec, "connect to " + ref.server);
  return c;
}

std::string job_text(const job_ref& ref) {
  if (ref.server.empty()) return std::to_string(ref.id.value);
  return ref.server + "/" + std::to_string(ref.id.value);
}

template <class T>
bool report_failed(const std::vector<server_reply<T>>& replies, const std::string& what) {
  bool any = false;
  for (const auto& r : replies) {
    if (!r.error) continue;
    any = true;
    print_error(describe(r.error, fmt::format("{} on {}", what, r.server)));
  }
  return any;
}

template <class T>
void fail_if_any_failed(const std::vector<server_reply<T>>& replies, const std::string& what) {
  std::string failed;
  for (const auto& r : replies) {
    if (r.error) failed += (failed.empty() ? "" : ", ") + r.server;
  }
  if (failed.empty()) return;
  report_failed(replies, what);
  throw plain_failure(exit_failure, fmt::format("{}: not applied on {}", what, failed));
}

template bool report_failed(const std::vector<server_reply<std::optional<job>>>&,
                            const std::string&);
template bool report_failed(const std::vector<server_reply<std::uint64_t>>&, const std::string&);
template bool report_failed(const std::vector<server_reply<bool>>&, const std::string&);
template bool report_failed(const std::vector<server_reply<proto::server_stats>>&,
                            const std::string&);
template bool report_failed(const std::vector<server_reply<proto::tube_stats>>&,
                            const std::string&);
template bool report_failed(const std::vector<server_reply<std::vector<std::string>>>&,
                            const std::string&);
template void fail_if_any_failed(const std::vector<server_reply<std::uint64_t>>&,
                                 const std::string&);
template void fail_if_any_failed(const std::vector<server_reply<bool>>&, const std::string&);

}  // namespace beanpole::cli
