// The blocking client: drives the proto command types over a blocking socket.
#include "beanpole/client.hpp"

#include <mutex>
#include <type_traits>

#include "beanpole/proto/commands.hpp"
#include "beanpole/proto/reply_parser.hpp"
#include "conn/rules.hpp"
#include "net/blocking_socket.hpp"
#include "net/tls_probe.hpp"

namespace beanpole {

namespace {

using steady = detail::coarse_clock;

}  // namespace

namespace detail {

struct blocking_connection {
  explicit blocking_connection(connection_options o) : options(o), parser(o.limits) {}

  /// Sends `request` and reads one reply, left in `parser.get()` (interpreted in place: moving
  /// it out costs more than the rest of the reply's handling); `written` tells whether the whole
  /// request left (so that a failure after it leaves the command's outcome unknown).
  std::error_code round_trip(std::string_view request, proto::server_wait wait, bool has_reply,
                             bool& written) {
    if (!socket.is_open()) return errc::not_connected;
    const auto start = steady::now();
    if (auto ec = socket.write_all(request, options.reply_timeout, start)) return ec;
    written = true;
    if (!has_reply) return {};
    // The first read gets the whole budget (the socket's timeout is usually armed so already);
    // a reply that arrives in pieces gets what is left of it.
    const auto budget = conn::reply_budget(options, wait);
    bool first_read = true;
    for (;;) {
      if (in_begin == in_end) {
        in_begin = in_end = 0;
        auto timeout = budget;
        if (!first_read && budget.count() > 0) {
          timeout = *detail::time_left(start + budget);
          if (timeout.count() == 0) return errc::reply_timeout;
        }
        first_read = false;
        std::size_t got = 0;
        if (auto ec = socket.read_some(in.data(), in.size(), timeout, got)) return ec;
        in_end = got;
        received_any = true;
      }
      const std::string_view data(in.data() + in_begin, in_end - in_begin);
      const auto step = parser.parse(data);
      in_begin += step.consumed;
      if (step.status == proto::parse_status::ready) return {};
      if (step.status == proto::parse_status::error) {
        failure.received = conn::printable_prefix(data);
        return conn::unexpected_bytes_error(parser.error(), data);
      }
    }
  }

  /// `ec`, or `errc::tls_reply_to_plain` when it broke a plain connection before its first
  /// reply and the server answers in TLS (see net/tls_probe.hpp).
  std::error_code name_tls_refusal(std::error_code ec) const {
    if (!conn::may_be_tls_refusal(ec, received_any) || peer.is_tls() || peer.is_unix()) return ec;
    return detail::answers_in_tls(peer, options.connect_timeout)
               ? make_error_code(errc::tls_reply_to_plain)
               : ec;
  }

  /// Closes the connection after `ec` broke it, remembering why (see `last_failure`).
  void fail_connection(std::error_code ec) {
    failure.cause = ec;
    failure.detail = socket.tls_detail();
    if (ec != condition::protocol_violation) failure.received.clear();
    drop_connection();
  }

  void drop_connection() {
    socket.close();
    parser.reset();
    in_begin = in_end = 0;
  }

  connection_options options;
  std::mutex mutex;
  detail::blocking_socket socket;
  proto::reply_parser parser;
  std::string out;  // the request being written, reused between commands
  std::vector<char> in = std::vector<char>(std::size_t{64} * 1024);
  std::size_t in_begin = 0;  // unparsed bytes are in[in_begin, in_end)
  std::size_t in_end = 0;
  failure_info failure;       // why the last connection failed
  endpoint peer;              // of the last connect
  bool received_any = false;  // a byte came on this connection (see name_tls_refusal)
};

}  // namespace detail

namespace {

/// Runs `cmd` on connection `s`: the one place a command meets the socket, for the client and
/// its job handles.
template <class Command>
auto run_on(detail::blocking_connection& s, const Command& cmd, std::error_code& ec) {
  using result = typename Command::result_type;
  ec.clear();
  std::lock_guard lock(s.mutex);
  s.out.clear();
  if ((ec = cmd.encode(s.out))) return result();  // refused: nothing was sent

  bool written = false;
  ec = s.round_trip(s.out, proto::wait_of(cmd), Command::traits.has_reply, written);
  if (ec) ec = s.name_tls_refusal(ec);
  if (ec && written) {
    // The request left whole but its reply was lost: the one rule both clients follow (a put's
    // outcome is unknown, never "failed"); the cause is kept for last_failure().
    s.fail_connection(ec);
    ec = conn::lost_reply_error(std::is_same_v<Command, proto::put_command>, ec, true);
    return result();
  }
  if (!ec && !Command::traits.has_reply) s.drop_connection();  // quit: the server closes
  if (ec || !Command::traits.has_reply) {
    if (conn::closes_connection(ec)) s.fail_connection(ec);
    return result();
  }
  // The parser readies itself for the next reply when it is next fed.
  if constexpr (std::is_void_v<result>) {
    cmd.interpret(std::move(s.parser.get()), ec);
    if (conn::closes_connection(ec)) s.fail_connection(ec);
  } else {
    auto value = cmd.interpret(std::move(s.parser.get()), ec);
    if (conn::closes_connection(ec)) s.fail_connection(ec);
    return value;
  }
}

/// The exception for `ec`: a failure of the connection names its cause (why a reply was lost,
/// what the server sent instead), so that "outcome unknown" never hides it.
error error_for(const detail::blocking_connection& s, std::error_code ec) {
  if (ec == condition::connection_failure || ec == condition::protocol_violation) {
    const failure_info& f = s.failure;
    if (f.cause && f.cause != ec) return error(ec, f.message());
    if (!f.received.empty()) return error(ec, "received \"" + f.received + "\"");
  }
  return error(ec);
}

/// Runs a job handle's action on its connection, or fails with `not_connected` when the client
/// that held the connection is gone.
template <class Command>
void run_on(const std::weak_ptr<detail::blocking_connection>& connection, const Command& cmd,
            std::error_code& ec) {
  if (const auto s = connection.lock()) {
    run_on(*s, cmd, ec);
  } else {
    ec = errc::not_connected;
  }
}

template <class Command>
void run_or_throw_on(const std::weak_ptr<detail::blocking_connection>& connection,
                     const Command& cmd) {
  std::error_code ec;
  run_on(connection, cmd, ec);
  if (!ec) return;
  if (const auto s = connection.lock()) throw error_for(*s, ec);
  throw error(ec);
}

}  // namespace

template <class Command>
auto client::run(const Command& cmd, std::error_code& ec) {
  return run_on(*impl_, cmd, ec);
}

error client::error_for(std::error_code ec) const {
  return beanpole::error_for(*impl_, ec);
}

namespace {

/// The id of the job a reserve or peek returned, when it returned one.
std::optional<std::uint64_t> job_in(const job& j) {
  return j.id.value;
}
std::optional<std::uint64_t> job_in(const std::optional<job>& j) {
  if (!j) return std::nullopt;
  return j->id.value;
}
template <class T>
std::optional<std::uint64_t> job_in(const T&) {
  return std::nullopt;
}

}  // namespace

template <class Command>
auto client::run_or_throw(const Command& cmd) {
  std::error_code ec;
  if constexpr (std::is_void_v<typename Command::result_type>) {
    run(cmd, ec);
    if (ec) throw error_for(ec);
  } else {
    auto value = run(cmd, ec);
    if (!ec) return value;
    // A corrupt job is held by this connection (a reserve) or still on the server (a peek):
    // its id goes with the exception, as a buried put's does, so that it can be buried or
    // deleted.
    if (const auto id = job_in(value); id && ec == errc::corrupt_job) {
      throw error(ec, *id, "job " + std::to_string(*id));
    }
    throw error_for(ec);
  }
}

std::optional<job_handle> client::handle(std::optional<job>&& j) {
  if (!j) return std::nullopt;
  return job_handle(*this, std::move(*j));
}

// --------------------------------------------------------------------------- life cycle

client::client(connection_options options)
    : impl_(std::make_shared<detail::blocking_connection>(options)) {}

client::client(const endpoint& ep, connection_options options) : client(options) {
  connect(ep);
}

client::~client() = default;
client::client(client&&) noexcept = default;
client& client::operator=(client&&) noexcept = default;

void client::connect(const endpoint& ep) {
  std::error_code ec;
  connect(ep, ec);
  if (!ec) return;
  const std::string detail = last_failure().detail;
  throw error(ec, "connect to " + ep.to_string() + (detail.empty() ? "" : " (" + detail + ")"));
}

void client::connect(const endpoint& ep, std::error_code& ec) {
  std::lock_guard lock(impl_->mutex);
  impl_->drop_connection();
  ec = conn::validate(ep);
  if (!ec) ec = impl_->socket.connect(ep, impl_->options.connect_timeout);
  impl_->peer = ep;
  impl_->received_any = false;
  if (ec) impl_->failure = {ec, {}, impl_->socket.tls_detail()};
}

failure_info client::last_failure() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->failure;
}

bool client::is_open() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->socket.is_open();
}

void client::close() {
  std::lock_guard lock(impl_->mutex);
  impl_->drop_connection();
}

const connection_options& client::options() const noexcept {
  return impl_->options;
}

// ----------------------------------------------------------------------------- commands

job_id client::put(std::string_view body, const put_options& opts) {
  std::error_code ec;
  const job_id id = put(body, opts, ec);
  if (ec == errc::buried) throw error(ec, id.value, "put: job " + std::to_string(id.value));
  if (ec) throw error_for(ec);
  return id;
}

job_id client::put(std::string_view body, const put_options& opts, std::error_code& ec) {
  return run(proto::put_command{opts.pri, opts.delay, opts.ttr, body}, ec);
}

void client::use(const tube_name& tube) {
  run_or_throw(proto::use_command{tube});
}
void client::use(const tube_name& tube, std::error_code& ec) {
  run(proto::use_command{tube}, ec);
}

job_handle client::reserve() {
  return job_handle(*this, run_or_throw(proto::reserve_command{}));
}
job_handle client::reserve(std::error_code& ec) {
  return job_handle(*this, run(proto::reserve_command{}, ec));
}

std::optional<job_handle> client::reserve_with_timeout(std::chrono::seconds timeout) {
  return handle(run_or_throw(proto::reserve_with_timeout_command{timeout}));
}
std::optional<job_handle> client::reserve_with_timeout(std::chrono::seconds timeout,
                                                       std::error_code& ec) {
  return handle(run(proto::reserve_with_timeout_command{timeout}, ec));
}

std::optional<job_handle> client::reserve_job(job_id id) {
  return handle(run_or_throw(proto::reserve_job_command{id}));
}
std::optional<job_handle> client::reserve_job(job_id id, std::error_code& ec) {
  return handle(run(proto::reserve_job_command{id}, ec));
}

void client::remove(job_id id) {
  run_or_throw(proto::delete_command{id});
}
void client::remove(job_id id, std::error_code& ec) {
  run(proto::delete_command{id}, ec);
}

void client::release(job_id id, priority pri, std::chrono::seconds delay) {
  run_or_throw(proto::release_command{id, pri, delay});
}
void client::release(job_id id, priority pri, std::chrono::seconds delay, std::error_code& ec) {
  run(proto::release_command{id, pri, delay}, ec);
}

void client::bury(job_id id, priority pri) {
  run_or_throw(proto::bury_command{id, pri});
}
void client::bury(job_id id, priority pri, std::error_code& ec) {
  run(proto::bury_command{id, pri}, ec);
}

void client::touch(job_id id) {
  run_or_throw(proto::touch_command{id});
}
void client::touch(job_id id, std::error_code& ec) {
  run(proto::touch_command{id}, ec);
}

std::size_t client::watch(const tube_name& tube) {
  return run_or_throw(proto::watch_command{tube});
}
std::size_t client::watch(const tube_name& tube, std::error_code& ec) {
  return run(proto::watch_command{tube}, ec);
}

std::size_t client::ignore(const tube_name& tube) {
  return run_or_throw(proto::ignore_command{tube});
}
std::size_t client::ignore(const tube_name& tube, std::error_code& ec) {
  return run(proto::ignore_command{tube}, ec);
}

std::optional<job> client::peek(job_id id) {
  return run_or_throw(proto::peek_command{id});
}
std::optional<job> client::peek(job_id id, std::error_code& ec) {
  return run(proto::peek_command{id}, ec);
}

std::optional<job> client::peek_ready() {
  return run_or_throw(proto::peek_state_command{proto::job_state::ready});
}
std::optional<job> client::peek_ready(std::error_code& ec) {
  return run(proto::peek_state_command{proto::job_state::ready}, ec);
}
std::optional<job> client::peek_delayed() {
  return run_or_throw(proto::peek_state_command{proto::job_state::delayed});
}
std::optional<job> client::peek_delayed(std::error_code& ec) {
  return run(proto::peek_state_command{proto::job_state::delayed}, ec);
}
std::optional<job> client::peek_buried() {
  return run_or_throw(proto::peek_state_command{proto::job_state::buried});
}
std::optional<job> client::peek_buried(std::error_code& ec) {
  return run(proto::peek_state_command{proto::job_state::buried}, ec);
}

std::uint64_t client::kick(std::uint64_t bound) {
  return run_or_throw(proto::kick_command{bound});
}
std::uint64_t client::kick(std::uint64_t bound, std::error_code& ec) {
  return run(proto::kick_command{bound}, ec);
}

void client::kick_job(job_id id) {
  run_or_throw(proto::kick_job_command{id});
}
void client::kick_job(job_id id, std::error_code& ec) {
  run(proto::kick_job_command{id}, ec);
}

proto::job_stats client::stats_job(job_id id) {
  return run_or_throw(proto::stats_job_command{id});
}
proto::job_stats client::stats_job(job_id id, std::error_code& ec) {
  return run(proto::stats_job_command{id}, ec);
}

proto::tube_stats client::stats_tube(const tube_name& tube) {
  return run_or_throw(proto::stats_tube_command{tube});
}
proto::tube_stats client::stats_tube(const tube_name& tube, std::error_code& ec) {
  return run(proto::stats_tube_command{tube}, ec);
}

proto::server_stats client::stats() {
  return run_or_throw(proto::stats_command{});
}
proto::server_stats client::stats(std::error_code& ec) {
  return run(proto::stats_command{}, ec);
}

std::vector<std::string> client::list_tubes() {
  return run_or_throw(proto::list_tubes_command{});
}
std::vector<std::string> client::list_tubes(std::error_code& ec) {
  return run(proto::list_tubes_command{}, ec);
}

std::string client::list_tube_used() {
  return run_or_throw(proto::list_tube_used_command{});
}
std::string client::list_tube_used(std::error_code& ec) {
  return run(proto::list_tube_used_command{}, ec);
}

std::vector<std::string> client::list_tubes_watched() {
  return run_or_throw(proto::list_tubes_watched_command{});
}
std::vector<std::string> client::list_tubes_watched(std::error_code& ec) {
  return run(proto::list_tubes_watched_command{}, ec);
}

void client::pause_tube(const tube_name& tube, std::chrono::seconds delay) {
  run_or_throw(proto::pause_tube_command{tube, delay});
}
void client::pause_tube(const tube_name& tube, std::chrono::seconds delay, std::error_code& ec) {
  run(proto::pause_tube_command{tube, delay}, ec);
}

void client::quit() {
  run_or_throw(proto::quit_command{});
}
void client::quit(std::error_code& ec) {
  run(proto::quit_command{}, ec);
}

// ---------------------------------------------------------------------------- job_handle

void job_handle::remove() {
  run_or_throw_on(connection_, proto::delete_command{job_.id});
}
void job_handle::release(priority pri, std::chrono::seconds delay) {
  run_or_throw_on(connection_, proto::release_command{job_.id, pri, delay});
}
void job_handle::bury(priority pri) {
  run_or_throw_on(connection_, proto::bury_command{job_.id, pri});
}
void job_handle::touch() {
  run_or_throw_on(connection_, proto::touch_command{job_.id});
}
void job_handle::remove(std::error_code& ec) {
  run_on(connection_, proto::delete_command{job_.id}, ec);
}
void job_handle::release(priority pri, std::chrono::seconds delay, std::error_code& ec) {
  run_on(connection_, proto::release_command{job_.id, pri, delay}, ec);
}
void job_handle::bury(priority pri, std::error_code& ec) {
  run_on(connection_, proto::bury_command{job_.id, pri}, ec);
}
void job_handle::touch(std::error_code& ec) {
  run_on(connection_, proto::touch_command{job_.id}, ec);
}

}  // namespace beanpole
