// console: the web console, served by the binary itself. Assets are embedded (console_assets);
// the page talks to a small JSON API below, which acts through the blocking client and the
// admin layer (move, flush) and `top`'s sampling, so the console and the CLI agree. With several
// servers (-a A,B) it acts through one blocking pool kept for the console's life (it retries a
// down server by itself), as the pool commands of the CLI do: totals with a per-server
// breakdown, jobs named ADDR/ID, kick/pause/move/flush on every server, put round-robin or on
// the server the user picks.
//
// Safety: every change is a POST carrying the session's CSRF token in X-CSRF-Token (the page
// reads it from GET /api/session, which another origin cannot read); a loopback console only
// answers requests whose Host is a loopback name (no DNS rebinding); a remote one needs
// --auth-file (HTTP Basic). Job bodies go to the page as JSON data, which it shows with
// textContent, never as HTML; the Content-Security-Policy forbids inline script anyway.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <httplib.h>

#include <beanpole/admin/jobs.hpp>
#include <beanpole/error.hpp>
#include <beanpole/version.hpp>

#include "admin_pool.hpp"
#include "commands.hpp"
#include "console_assets.hpp"
#include "errors.hpp"
#include "http_serve.hpp"
#include "json_body.hpp"
#include "pool_mode.hpp"
#include "top_pool.hpp"
#include "top_view.hpp"

namespace beanpole::cli {
namespace {

struct console_args {
  std::string listen = "127.0.0.1:8080";
  bool allow_remote = false;
  std::string auth_file;
};

/// A failure to report to the page: HTTP status and message.
struct api_error : std::runtime_error {
  api_error(int s, const std::string& m) : std::runtime_error(m), status(s) {}
  int status;
};

std::string random_token() {
  unsigned char bytes[24];
  const int fd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
  if (fd < 0 || ::read(fd, bytes, sizeof bytes) != static_cast<ssize_t>(sizeof bytes)) {
    if (fd >= 0) ::close(fd);
    throw plain_failure(exit_failure, "console: cannot read /dev/urandom for the CSRF token");
  }
  ::close(fd);
  std::string out;
  for (const unsigned char b : bytes) out += fmt::format("{:02x}", b);
  return out;
}

/// Constant-time comparison of secrets.
bool same_secret(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

/// "user:password" lines of --auth-file, as the base64 of Basic credentials.
std::vector<std::string> read_auth_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw usage_error("console: cannot read --auth-file " + path);
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line.front() == '#') continue;
    if (line.find(':') == std::string::npos) {
      throw usage_error("console: --auth-file lines must be user:password");
    }
    out.push_back(base64_encode(line));
  }
  if (out.empty()) throw usage_error("console: --auth-file " + path + " holds no user:password");
  return out;
}

/// The host part of a Host header ("127.0.0.1:8080" → "127.0.0.1", "[::1]:80" → "::1").
std::string host_of(const std::string& header) {
  if (!header.empty() && header.front() == '[') {
    const auto close = header.find(']');
    return close == std::string::npos ? header : header.substr(1, close - 1);
  }
  return header.substr(0, header.rfind(':'));
}

tube_name tube_arg(const std::string& text) {
  tube_name t;
  if (tube_name::make(text, t)) throw api_error(400, "invalid tube name: " + text);
  return t;
}

std::uint64_t number_arg(const json& body, const char* key, std::uint64_t fallback,
                         std::uint64_t max) {
  const auto it = body.find(key);
  if (it == body.end() || it->is_null()) return fallback;
  std::uint64_t n = 0;
  if (it->is_number_unsigned()) {
    n = it->get<std::uint64_t>();
  } else if (it->is_string() && !it->get_ref<const std::string&>().empty() &&
             it->get_ref<const std::string&>().find_first_not_of("0123456789") ==
                 std::string::npos &&
             it->get_ref<const std::string&>().size() < 20) {
    n = std::stoull(it->get<std::string>());
  } else if (it->is_number_integer() && it->get<std::int64_t>() >= 0) {
    n = static_cast<std::uint64_t>(it->get<std::int64_t>());
  } else {
    throw api_error(400, fmt::format("{} must be a whole number", key));
  }
  if (n > max) throw api_error(400, fmt::format("{} must be at most {}", key, max));
  return n;
}

std::string string_arg(const json& body, const char* key) {
  const auto it = body.find(key);
  if (it == body.end() || !it->is_string()) throw api_error(400, fmt::format("{} missing", key));
  return it->get<std::string>();
}

job_state state_arg(const std::string& text) {
  const auto s = parse_job_state(text);
  if (!s) throw api_error(400, "state must be ready, delayed or buried");
  return *s;
}

void fail_on(std::error_code ec, const std::string& what) {
  if (ec) throw api_error(502, describe(ec, what));
}

/// Runs `f` (a call of the blocking pool), its failure as a 502 naming `what`.
template <class F>
auto pool_api(const std::string& what, F f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::system_error& e) {
    throw api_error(502, describe(e.code(), what));
  }
}

/// Every integer field of `stats`: the page's totals panel.
json integer_fields(const proto::server_stats& stats) {
  json out = json::object();
  for (const auto& f : proto::fields_of(stats)) {
    if (const auto* n = std::get_if<std::uint64_t>(&f.value)) out[std::string(f.key)] = *n;
  }
  return out;
}

/// A peeked job for the page: its id, size, `stats-job` figures when `st` is given, and its body
/// (text when valid UTF-8, else base64; the page also shows it as hex).
json job_json(job_id id, const std::string& body, const proto::job_stats* st) {
  json j{{"id", id.value}, {"size", body.size()}};
  if (st != nullptr) {
    j["state"] = st->state;
    j["pri"] = st->pri;
    j["ttr"] = st->ttr;
    j["age"] = st->age;
    j["delay"] = st->delay;
    j["time_left"] = st->time_left;
    j["reserves"] = st->reserves;
    j["buries"] = st->buries;
    j["kicks"] = st->kicks;
  }
  set_body(j, body);
  return j;
}

/// "A, B".
std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

class console_app {
 public:
  console_app(const context& ctx, std::vector<std::string> credentials, bool loopback,
              std::string listen_host)
      : ctx_(ctx),
        names_(ctx.addresses()),
        several_(ctx.several()),
        server_(several_ ? endpoint{} : ctx.server()),
        options_(ctx.connection()),
        csrf_(random_token()),
        credentials_(std::move(credentials)),
        loopback_(loopback),
        listen_host_(std::move(listen_host)) {}

  void install(httplib::Server& http) {
    http.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
      return guard(req, res) ? httplib::Server::HandlerResponse::Unhandled
                             : httplib::Server::HandlerResponse::Handled;
    });
    http.set_post_routing_handler([](const httplib::Request&, httplib::Response& res) {
      res.set_header("Content-Security-Policy",
                     "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                     "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
                     "base-uri 'none'");
      res.set_header("X-Content-Type-Options", "nosniff");
      res.set_header("Referrer-Policy", "no-referrer");
      res.set_header("Cache-Control", "no-store");
    });
    for (std::size_t i = 0; i < console_asset_count; ++i) {
      const console_asset& a = console_assets[i];
      const std::string path = a.path == "/index.html" ? "/" : std::string(a.path);
      http.Get(path, [&a](const httplib::Request&, httplib::Response& res) {
        res.set_content(a.data.data(), a.data.size(), std::string(a.content_type).c_str());
      });
    }
    get(http, "/api/session", [this](const httplib::Request&) {
      if (several_) {
        return json{{"csrf", csrf_}, {"servers", names_}, {"pool", true}, {"version", version}};
      }
      return json{{"csrf", csrf_}, {"server", server_.to_string()}, {"version", version}};
    });
    get(http, "/api/overview", [this](const httplib::Request&) { return overview(); });
    get(http, "/api/peek", [this](const httplib::Request& req) { return peek(req); });
    post(http, "/api/put", [this](const json& b) { return put(b); });
    post(http, "/api/kick", [this](const json& b) { return kick(b); });
    post(http, "/api/kick-job", [this](const json& b) { return kick_job(b); });
    post(http, "/api/delete", [this](const json& b) { return remove(b); });
    post(http, "/api/pause", [this](const json& b) { return pause(b); });
    post(http, "/api/move", [this](const json& b) { return move(b); });
    post(http, "/api/flush", [this](const json& b) { return flush(b); });
  }

 private:
  /// Host check (loopback consoles) and Basic authentication (when --auth-file is given).
  bool guard(const httplib::Request& req, httplib::Response& res) const {
    if (loopback_) {
      const std::string host = host_of(req.get_header_value("Host"));
      if (host != "localhost" && host != "127.0.0.1" && host != "::1" && host != listen_host_) {
        res.status = 403;
        res.set_content("forbidden host\n", "text/plain");
        return false;
      }
    }
    if (!credentials_.empty()) {
      const std::string auth = req.get_header_value("Authorization");
      bool ok = false;
      if (auth.starts_with("Basic ")) {
        for (const auto& c : credentials_) ok = same_secret(auth.substr(6), c) || ok;
      }
      if (!ok) {
        res.status = 401;
        res.set_header("WWW-Authenticate", "Basic realm=\"beanpole console\", charset=\"UTF-8\"");
        res.set_content("authentication required\n", "text/plain");
        return false;
      }
    }
    return true;
  }

  template <class F>
  void get(httplib::Server& http, const char* path, F f) {
    http.Get(path, [f](const httplib::Request& req, httplib::Response& res) {
      answer(res, [&] { return f(req); });
    });
  }

  template <class F>
  void post(httplib::Server& http, const char* path, F f) {
    http.Post(path, [this, f](const httplib::Request& req, httplib::Response& res) {
      answer(res, [&] {
        if (!same_secret(req.get_header_value("X-CSRF-Token"), csrf_)) {
          throw api_error(403, "missing or wrong CSRF token");
        }
        if (!req.get_header_value("Content-Type").starts_with("application/json")) {
          throw api_error(415, "the body must be application/json");
        }
        const json body = json::parse(req.body, nullptr, false);
        if (!body.is_object()) throw api_error(400, "the body must be a JSON object");
        return f(body);
      });
    });
  }

  template <class F>
  static void answer(httplib::Response& res, F f) {
    try {
      res.set_content(dump(f()), "application/json");
    } catch (const api_error& e) {
      res.status = e.status;
      res.set_content(dump(json{{"error", e.what()}}), "application/json");
    } catch (const std::exception& e) {
      res.status = 500;
      res.set_content(dump(json{{"error", e.what()}}), "application/json");
    }
  }

  client connect() const {
    client c(options_);
    std::error_code ec;
    c.connect(server_, ec);
    fail_on(ec, "connect to " + server_.to_string());
    return c;
  }

  /// The tubes table and the server's totals. The table is `top --json`'s (same sampling, same
  /// rates, computed against the previous overview any page asked for), plus every integer
  /// field of `stats` under "totals".
  json overview() {
    if (several_) return pool_overview();
    json out{{"address", server_.to_string()}, {"up", false}};
    try {
      client c = connect();
      top_sample cur = take_sample(c, {});
      json totals = integer_fields(cur.server);
      const std::lock_guard lock(previous_mutex_);
      out.update(top_json(cur, previous_ ? &*previous_ : nullptr));
      out["totals"] = std::move(totals);
      out["up"] = true;
      previous_ = std::move(cur);
    } catch (const api_error& e) {
      out["error"] = e.what();
    } catch (const command_failure& e) {
      out["error"] = describe(e.ec, e.what());
    }
    return out;
  }

  json peek(const httplib::Request& req) const {
    const tube_name tube = tube_arg(req.get_param_value("tube"));
    const job_state state = state_arg(req.get_param_value("state"));
    if (several_) return pool_peek(tube, state);
    client c = connect();
    std::error_code ec;
    c.use(tube, ec);
    fail_on(ec, "use " + tube.str());
    const auto found = state == job_state::ready     ? c.peek_ready(ec)
                       : state == job_state::delayed ? c.peek_delayed(ec)
                                                     : c.peek_buried(ec);
    fail_on(ec, fmt::format("peek-{}", to_string(state)));
    if (!found) return json{{"job", nullptr}};
    const auto st = c.stats_job(found->id, ec);
    return json{{"job", job_json(found->id, found->body, ec ? nullptr : &st)}};
  }

  json put(const json& b) const {
    const tube_name tube = tube_arg(string_arg(b, "tube"));
    const std::string body = string_arg(b, "body");
    put_options opts;
    opts.pri = static_cast<priority>(number_arg(b, "pri", default_priority, 0xFFFFFFFFu));
    opts.delay = std::chrono::seconds(number_arg(b, "delay", 0, 0xFFFFFFFFu));
    opts.ttr = std::chrono::seconds(number_arg(b, "ttr", 60, 0xFFFFFFFFu));
    if (several_) return pool_put(tube, body, opts, b);
    client c = connect();
    std::error_code ec;
    c.use(tube, ec);
    fail_on(ec, "use " + tube.str());
    const job_id id = c.put(body, opts, ec);
    fail_on(ec, "put");
    return json{{"id", id.value}};
  }

  json kick(const json& b) const {
    const tube_name tube = tube_arg(string_arg(b, "tube"));
    const std::uint64_t bound = number_arg(b, "bound", 1, 0xFFFFFFFFu);
    if (several_) return pool_kick(tube, bound);
    client c = connect();
    std::error_code ec;
    c.use(tube, ec);
    fail_on(ec, "use " + tube.str());
    const std::uint64_t kicked = c.kick(bound, ec);
    fail_on(ec, "kick");
    return json{{"kicked", kicked}};
  }

  /// An action on one job by id (`b["id"]`): `act(client, id, ec)`; answers {key: id}. With
  /// several servers, by `b["job"]` (ADDR/ID): `pool_act(pool, id)`; answers {key: "ADDR/ID"}.
  template <class F, class G>
  json on_job(const json& b, const char* command, const char* key, F act, G pool_act) const {
    if (several_) return on_pool_job(b, command, key, pool_act);
    const job_id id{number_arg(b, "id", 0, ~std::uint64_t{0})};
    client c = connect();
    std::error_code ec;
    act(c, id, ec);
    fail_on(ec, fmt::format("{} {}", command, id.value));
    return json{{key, id.value}};
  }

  json kick_job(const json& b) const {
    return on_job(
        b, "kick-job", "kicked",
        [](client& c, job_id id, std::error_code& ec) { c.kick_job(id, ec); },
        [](pool& p, const pool_job_id& id) { p.kick_job(id); });
  }

  json remove(const json& b) const {
    return on_job(
        b, "delete", "deleted", [](client& c, job_id id, std::error_code& ec) { c.remove(id, ec); },
        [](pool& p, const pool_job_id& id) { p.remove(id); });
  }

  json pause(const json& b) const {
    const tube_name tube = tube_arg(string_arg(b, "tube"));
    const auto seconds = number_arg(b, "seconds", 0, 0xFFFFFFFFu);
    if (several_) return pool_pause(tube, seconds);
    client c = connect();
    std::error_code ec;
    c.pause_tube(tube, std::chrono::seconds(seconds), ec);
    fail_on(ec, "pause-tube " + tube.str());
    return json{{"paused", seconds}};
  }

  json move(const json& b) const {
    const tube_name from = tube_arg(string_arg(b, "from"));
    const tube_name to = tube_arg(string_arg(b, "to"));
    if (from == to) throw api_error(400, "from and to name the same tube");
    move_options opts;
    opts.state = state_arg(string_arg(b, "state"));
    if (b.contains("limit") && !b["limit"].is_null() && b["limit"] != "") {
      opts.limit = number_arg(b, "limit", 0, ~std::uint64_t{0});
    }
    if (several_) return pool_move(from, to, opts);
    client c = connect();
    const move_result r = move_jobs(c, from, to, opts);
    json out{{"moved", r.moved}};
    if (r.ec) {
      out["error"] = describe(r.ec, "move stopped");
      if (r.source) out["source"] = r.source->value;
      out["copy"] = r.copy ? json(r.copy->value) : json(nullptr);
    }
    return out;
  }

  json flush(const json& b) const {
    const tube_name tube = tube_arg(string_arg(b, "tube"));
    flush_options opts;
    const std::string state = string_arg(b, "state");
    if (state != "all") opts.states = {state_arg(state)};
    if (several_) return pool_flush(tube, opts);
    client c = connect();
    const flush_result r = flush_tube(c, tube, opts);
    json out{{"deleted", r.deleted}};
    if (r.ec) out["error"] = describe(r.ec, "flush stopped");
    return out;
  }

  // ------------------------------------------------------------------- several servers

  /// The console's pool, opened at the first request that needs it (and again after a failed
  /// open: every server was down).
  pool& the_pool() const {
    const std::lock_guard lock(pool_mutex_);
    if (!pool_) {
      try {
        pool_ = open_pool(ctx_);
      } catch (const command_failure& e) {
        throw api_error(502, describe(e.ec, e.what()));
      }
    }
    return *pool_;
  }

  /// `server` if it is one of the servers given with -a; 400 otherwise.
  const std::string& known_server(const std::string& server) const {
    for (const auto& n : names_) {
      if (n == server) return n;
    }
    throw api_error(400, "'" + server + "' is not one of the console's servers");
  }

  /// As `overview`, over every server: the tubes table and totals summed over the servers that
  /// answered (a tube on any server is listed), and "servers": each server's address, state
  /// and key figures (`top --json`'s per-server part), or why it did not answer.
  json pool_overview() {
    json out{{"address", joined(names_)}, {"up", false}, {"pool", true}};
    try {
      pool& p = the_pool();
      pool_top_sample cur = take_pool_sample(p, {});
      std::map<std::string, std::string> states;
      for (const auto& s : p.servers()) states[s.name] = std::string(to_string(s.state));
      const std::lock_guard lock(previous_mutex_);
      json view = pool_top_json(cur, previous_pool_ ? &*previous_pool_ : nullptr);
      out["time"] = view["time"];
      out.update(view["total"]);
      out["totals"] = integer_fields(cur.total.server);
      json servers = json::array();
      for (std::size_t i = 0; i < cur.names.size(); ++i) {
        const std::string& name = cur.names[i];
        json one{{"address", name}, {"up", cur.servers[i].has_value()}, {"state", states[name]}};
        if (cur.servers[i]) {
          one["server"] = view["servers"][name]["server"];
        } else {
          one["error"] = cur.errors[i];
        }
        servers.push_back(std::move(one));
      }
      out["servers"] = std::move(servers);
      out["up"] = true;
      previous_pool_ = std::move(cur);
    } catch (const api_error& e) {
      out["error"] = e.what();
    } catch (const command_failure& e) {
      out["error"] = describe(e.ec, e.what());
    }
    if (!out.contains("servers")) {
      json servers = json::array();
      for (const auto& n : names_) {
        servers.push_back(
            json{{"address", n}, {"up", false}, {"state", "down"}, {"error", out["error"]}});
      }
      out["servers"] = std::move(servers);
    }
    return out;
  }

  /// The next job of `state` over every server: the most urgent ready one (lowest priority,
  /// then oldest), the delayed one due first, the buried one buried longest (kick's order).
  json pool_peek(const tube_name& tube, job_state state) const {
    pool& p = the_pool();
    const auto replies = pool_api(fmt::format("peek-{}", to_string(state)),
                                  [&] { return p.peek_state(tube, state); });
    json best = nullptr;
    std::vector<std::string> unanswered;
    const auto before = [state](const proto::job_stats& a, const proto::job_stats& b) {
      if (state == job_state::ready) return a.pri < b.pri || (a.pri == b.pri && a.age > b.age);
      if (state == job_state::delayed) return a.time_left < b.time_left;
      return a.age > b.age;
    };
    std::optional<proto::job_stats> best_stats;
    for (const auto& r : replies) {
      if (r.error) {
        unanswered.push_back(r.server);
        continue;
      }
      if (!r.value) continue;
      const pool_job_id id{r.server, r.value->id};
      std::optional<proto::job_stats> st;
      try {
        st = p.stats_job(id);
      } catch (const std::system_error&) {
        // Gone since the peek, or its server went away: show it without figures.
      }
      if (!best.is_null() && (!st || !best_stats || !before(*st, *best_stats))) continue;
      best = job_json(r.value->id, r.value->body, st ? &*st : nullptr);
      best["server"] = r.server;
      best["job"] = id.to_string();
      best_stats = st;
    }
    json out{{"job", best}};
    if (!unanswered.empty()) out["unanswered"] = unanswered;
    return out;
  }

  json pool_put(const tube_name& tube, const std::string& body, const put_options& opts,
                const json& b) const {
    const auto chosen = b.find("server");
    if (chosen == b.end() || chosen->is_null() || *chosen == "") {
      pool& p = the_pool();
      std::error_code ec;
      const pool_job_id id = p.put(tube, body, opts, ec);
      fail_on(ec, id.server.empty() ? "put" : "put on " + id.server);
      return json{{"id", id.id.value}, {"server", id.server}, {"job", id.to_string()}};
    }
    const std::string& server = known_server(string_arg(b, "server"));
    client c = server_client(server);
    std::error_code ec;
    c.use(tube, ec);
    fail_on(ec, "use " + tube.str() + " on " + server);
    const job_id id = c.put(body, opts, ec);
    fail_on(ec, "put on " + server);
    return json{{"id", id.value}, {"server", server}, {"job", pool_job_id{server, id}.to_string()}};
  }

  client server_client(const std::string& server) const {
    try {
      return connect_for(ctx_, job_ref{{}, server});
    } catch (const command_failure& e) {
      throw api_error(502, describe(e.ec, e.what()));
    }
  }

  /// Every server that failed in `replies`, as "not applied on A (why); B (why)"; empty when
  /// none did. NOT_FOUND is no failure where `not_found_ok` (a tube that one server lacks).
  template <class T>
  static std::string failures(const std::vector<server_reply<T>>& replies, const char* what,
                              bool not_found_ok) {
    std::string out;
    for (const auto& r : replies) {
      if (!r.error || (not_found_ok && r.error == errc::not_found)) continue;
      out += (out.empty() ? "not applied on " : "; ") + describe(r.error, r.server);
    }
    if (!out.empty()) out = fmt::format("{} {}", what, out);
    return out;
  }

  json pool_kick(const tube_name& tube, std::uint64_t bound) const {
    pool& p = the_pool();
    const auto replies = pool_api("kick", [&] { return p.kick(tube, bound); });
    std::uint64_t total = 0;
    for (const auto& r : replies) total += r.error ? 0 : r.value;
    json out{{"kicked", total}};
    if (const auto failed = failures(replies, "kick", false); !failed.empty()) {
      out["error"] = failed;
    }
    return out;
  }

  json pool_pause(const tube_name& tube, std::uint64_t seconds) const {
    pool& p = the_pool();
    const auto replies = pool_api("pause-tube " + tube.str(), [&] {
      return p.pause_tube(tube, std::chrono::seconds(seconds));
    });
    json out{{"paused", seconds}};
    if (const auto failed = failures(replies, "pause-tube", true); !failed.empty()) {
      out["error"] = failed;
    }
    return out;
  }

  template <class G>
  json on_pool_job(const json& b, const char* command, const char* key, G pool_act) const {
    pool_job_id id;
    if (pool_job_id::parse(string_arg(b, "job"), id)) {
      throw api_error(400, "job must be ADDR/ID with several servers");
    }
    (void)known_server(id.server);
    pool& p = the_pool();
    pool_api(fmt::format("{} {}", command, id.to_string()), [&] { pool_act(p, id); });
    return json{{key, id.to_string()}};
  }

  json pool_move(const tube_name& from, const tube_name& to, const move_options& opts) const {
    const auto parts = move_on_each(ctx_, from, to, opts);
    std::uint64_t moved = 0;
    json servers = json::object();
    std::string errors;
    for (const auto& p : parts) {
      moved += p.result.moved;
      servers[p.server] = p.result.moved;
      if (p.result.ec) {
        errors += (errors.empty() ? "" : "; ") + failure_of(p, from, to);
      }
    }
    json out{{"moved", moved}, {"servers", servers}};
    if (!errors.empty()) out["error"] = errors;
    return out;
  }

  json pool_flush(const tube_name& tube, const flush_options& opts) const {
    const auto parts = flush_on_each(ctx_, tube, opts);
    std::uint64_t deleted = 0;
    json servers = json::object();
    std::string errors;
    for (const auto& p : parts) {
      deleted += p.result.deleted;
      servers[p.server] = p.result.deleted;
      if (p.result.ec) {
        errors += (errors.empty() ? "" : "; ") + failure_of(p, tube);
      }
    }
    json out{{"deleted", deleted}, {"servers", servers}};
    if (!errors.empty()) out["error"] = errors;
    return out;
  }

  const context& ctx_;
  std::vector<std::string> names_;  ///< the servers as given with -a
  bool several_;
  endpoint server_;  ///< with one server
  connection_options options_;
  std::string csrf_;
  std::vector<std::string> credentials_;
  bool loopback_;
  std::string listen_host_;
  std::mutex previous_mutex_;
  std::optional<top_sample> previous_;            ///< the last overview's sample, for rates
  std::optional<pool_top_sample> previous_pool_;  ///< the same with several servers
  mutable std::mutex pool_mutex_;
  mutable std::unique_ptr<pool> pool_;  ///< with several servers; see the_pool()
};

int run_console(const context& ctx, const console_args& a) {
  const listen_address where = parse_listen(a.listen, a.allow_remote, "console");
  if (!where.loopback && a.auth_file.empty()) {
    throw usage_error("console: a non-loopback --listen needs --auth-file FILE as well");
  }
  std::vector<std::string> credentials;
  if (!a.auth_file.empty()) credentials = read_auth_file(a.auth_file);
  validate_servers(ctx);
  console_app app(ctx, std::move(credentials), where.loopback, where.host);
  httplib::Server http;
  app.install(http);
  return serve_until_signal(http, where, "console");
}

}  // namespace

void add_console_command(CLI::App& app, context& ctx) {
  auto a = std::make_shared<console_args>();
  auto* cmd = app.add_subcommand("console", "Serve the web console");
  cmd->group(group_serve);
  cmd->footer(
      "A web console for the server of -a: a live table of the tubes, peek at the next\n"
      "ready, delayed and buried job, kick, delete, pause, move, flush and put, and the\n"
      "server's totals. With several servers (-a A,B): totals over them and a per-server\n"
      "breakdown, jobs named ADDR/ID, actions on every server, puts round-robin or on the\n"
      "server picked. Every asset is inside the binary (no CDN: works offline).\n"
      "Listens on 127.0.0.1:8080 by default. A non-loopback --listen needs both\n"
      "--allow-remote and --auth-file FILE (lines of user:password, HTTP Basic; use it\n"
      "behind TLS), exit 2 otherwise. Port 0 picks a free port; the address is printed\n"
      "on stderr. Every change is a POST with a CSRF token. Runs until SIGINT or SIGTERM.");
  cmd->add_option("--listen", a->listen, "Address to serve on (default 127.0.0.1:8080)")
      ->type_name("HOST:PORT");
  cmd->add_flag("--allow-remote", a->allow_remote, "Allow a non-loopback --listen address");
  cmd->add_option("--auth-file", a->auth_file, "user:password lines for HTTP Basic auth")
      ->type_name("FILE");
  cmd->callback([&ctx, a] { ctx.run = [&ctx, a] { return run_console(ctx, *a); }; });
}

}  // namespace beanpole::cli
