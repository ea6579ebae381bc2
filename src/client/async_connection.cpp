#include "client/async_connection.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <asio/connect.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/write.hpp>

#include <algorithm>

#include "beanpole/error.hpp"
#include "client/async_tls_probe.hpp"
#include "conn/rules.hpp"

namespace beanpole::detail {
namespace {

using clock = std::chrono::steady_clock;
using generic_endpoint = asio::generic::stream_protocol::endpoint;

constexpr std::size_t read_chunk = std::size_t{64} * 1024;

/// The largest write buffer kept for reuse once written.
constexpr std::size_t max_kept_buffer = std::size_t{4} * 1024 * 1024;

/// Empties a written buffer for reuse, keeping its capacity unless large bodies grew it.
void recycle(conn::request_buffer& buffer) {
  buffer.clear(max_kept_buffer);
}

/// The buffer a reserve connection reads into, lent for one drain (see
/// async_connection::drain): one per thread instead of one per connection, since a reserve
/// connection spends nearly all its life waiting for a job and a process may hold a thousand of
/// them. A drain that starts while the thread's buffer is lent (an io_context run from inside a
/// handler) gets a buffer of its own.
class read_scratch {
 public:
  class lease {
   public:
    lease() {
      if (lent_) {
        own_ = std::make_unique_for_overwrite<char[]>(read_chunk);
        data_ = own_.get();
        return;
      }
      if (!shared_) shared_ = std::make_unique_for_overwrite<char[]>(read_chunk);
      lent_ = true;
      data_ = shared_.get();
    }
    ~lease() {
      if (!own_) lent_ = false;
    }
    lease(const lease&) = delete;
    lease& operator=(const lease&) = delete;

    asio::mutable_buffer bytes() const noexcept { return {data_, read_chunk}; }

   private:
    std::unique_ptr<char[]> own_;
    char* data_ = nullptr;
  };

 private:
  static thread_local std::unique_ptr<char[]> shared_;
  static thread_local bool lent_;
};

thread_local std::unique_ptr<char[]> read_scratch::shared_;
thread_local bool read_scratch::lent_ = false;

/// Commands in flight from which a reader waits for a batch of replies (see set_read_batch).
constexpr std::size_t deep_pipeline = 1024;

/// The most reply bytes a reader waits for before it wakes (see set_read_batch).
constexpr std::size_t read_batch_bytes = 1024;

/// The reply deadline of a command written now.
clock::time_point deadline_for(const op_base& op, const connection_options& opts,
                               clock::time_point now) {
  const auto budget = conn::reply_budget(opts, op.wait);
  return budget.count() == 0 ? clock::time_point::max() : now + budget;
}

}  // namespace

async_connection::async_connection(const asio::any_io_executor& strand,
                                   const connection_options& options, connection_listener& listener)
    : strand_(strand),
      options_(options),
      listener_(listener),
      stream_(strand),
      connect_timer_(strand),
      reply_timer_(strand),
      parser_(options.limits) {}

// ------------------------------------------------------------------------------- connect

void async_connection::start_connect(const endpoint& ep,
                                     std::function<void(std::error_code)> done) {
  auto finish = std::make_shared<std::function<void(std::error_code)>>(std::move(done));
  auto self = shared_from_this();
  endpoint_ = ep;
  connect_deadline_ = clock::time_point::max();
  if (options_.connect_timeout.count() > 0) {
    connect_timer_.expires_after(options_.connect_timeout);
    connect_deadline_ = connect_timer_.expiry();
    connect_timer_.async_wait([self, finish](std::error_code ec) {
      if (ec || !*finish) return;  // cancelled: the connect finished first
      auto f = std::exchange(*finish, nullptr);
      const auto why = self->stream_.timeout_error();
      self->stream_.close();
      f(why);
    });
  }

  auto eps = std::make_shared<std::vector<generic_endpoint>>();
  if (ep.is_unix()) {
    eps->emplace_back(asio::local::stream_protocol::endpoint(ep.unix_path));
    try_connect(eps, 0, {}, finish);
    return;
  }
  auto resolver = std::make_shared<asio::ip::tcp::resolver>(strand_);
  resolver->async_resolve(
      ep.host, std::to_string(ep.port),
      [self, eps, finish, resolver](std::error_code ec,
                                    const asio::ip::tcp::resolver::results_type& results) {
        if (!*finish) return;  // timed out meanwhile
        if (self->closed_) ec = asio::error::operation_aborted;
        if (ec) {
          std::exchange(*finish, nullptr)(ec);
          self->connect_timer_.cancel();
          return;
        }
        for (const auto& entry : results) eps->emplace_back(entry.endpoint());
        self->try_connect(eps, 0, {}, finish);
      });
}

void async_connection::try_connect(
    const std::shared_ptr<std::vector<generic_endpoint>>& eps, std::size_t index,
    std::error_code last, const std::shared_ptr<std::function<void(std::error_code)>>& done) {
  if (!*done) return;  // timed out
  if (closed_) {
    connect_timer_.cancel();
    std::exchange(*done, nullptr)(make_error_code(asio::error::operation_aborted));
    return;
  }
  if (index == eps->size()) {
    connect_timer_.cancel();
    std::exchange(*done, nullptr)(last ? last : make_error_code(errc::not_connected));
    return;
  }
  const generic_endpoint& target = (*eps)[index];
  std::error_code ec;
  stream_.socket().close(ec);
  stream_.socket().open(target.protocol(), ec);
  if (ec) {
    try_connect(eps, index + 1, ec, done);
    return;
  }
  auto self = shared_from_this();
  stream_.socket().async_connect(target, [self, eps, index, done](std::error_code cec) {
    if (!*done) return;          // timed out: the timer already reported
    if (cec || self->closed_) {  // try_connect reports a close as operation_aborted
      self->try_connect(eps, index + 1, cec, done);
      return;
    }
    self->peer_ = (*eps)[index];
    const int family = (*eps)[index].protocol().family();
    self->is_tcp_ = family == AF_INET || family == AF_INET6;
    if (self->is_tcp_) {
      // Commands are written as they are issued; Nagle would hold small writes back for the
      // server's delayed ACK (about 40 ms each).
      const int one = 1;
      ::setsockopt(self->stream_.socket().native_handle(), IPPROTO_TCP, TCP_NODELAY, &one,
                   sizeof one);
    }
    if (!self->endpoint_.is_tls()) {
      self->connected(done);
      return;
    }
    // TLS: the handshake runs under the connect timer, so the connect timeout bounds it too.
    if (auto tec = self->stream_.start_tls(self->endpoint_)) {
      self->connect_timer_.cancel();
      self->stream_.close();
      std::exchange(*done, nullptr)(tec);
      return;
    }
    self->stream_.async_handshake(self->connect_deadline_, [self, done](std::error_code hec) {
      if (!*done) return;  // timed out: the timer already reported
      if (!hec && self->closed_) hec = asio::error::operation_aborted;
      if (hec) {
        self->connect_timer_.cancel();
        self->stream_.close();
        std::exchange(*done, nullptr)(hec);
        return;
      }
      self->connected(done);
    });
  });
}

void async_connection::connected(
    const std::shared_ptr<std::function<void(std::error_code)>>& done) {
  connect_timer_.cancel();
  if (!endpoint_.is_tls()) {
    // drain() reads until the socket is empty, so a read must say "nothing more" rather than
    // wait for more.
    std::error_code ec;
    stream_.socket().non_blocking(true, ec);
    if (ec) {
      stream_.close();
      std::exchange(*done, nullptr)(ec);
      return;
    }
  }
  open_ = true;
  received_any_ = false;
  parser_.reset();
  start_read();
  std::exchange(*done, nullptr)({});
}

// --------------------------------------------------------------------------------- write

void async_connection::send(conn::request_buffer& requests, op_queue& ops) {
  out_.append(requests);  // into an empty buffer (the common case): a swap, no copy
  recycle(requests);
  unwritten_.splice_back(ops);
  if (open_ && !writing_) start_write();
}

void async_connection::send(std::string& bytes, op_queue& ops) {
  out_.bytes() += bytes;
  bytes.clear();
  unwritten_.splice_back(ops);
  if (open_ && !writing_) start_write();
}

void async_connection::start_write() {
  if (out_.empty()) return;
  writing_ = true;
  in_write_.swap(out_);  // in_write_ is empty: recycled when the last write completed
  const auto now = clock::now();
  for (op_base* op = unwritten_.front(); op != nullptr; op = op->next) {
    op->deadline = deadline_for(*op, options_, now);
  }
  awaiting_.splice_back(unwritten_);
  arm_timer();
  auto done = [self = shared_from_this()](std::error_code ec, std::size_t /*n*/) {
    self->writing_ = false;
    recycle(self->in_write_);
    if (!self->open_) return;
    if (ec) {
      self->fail(ec);
      return;
    }
    if (!self->out_.empty()) {
      self->start_write();
    } else {
      self->listener_.on_writable(*self);
    }
  };
  if (in_write_.externals().empty()) {
    stream_.async_write(asio::buffer(in_write_.bytes()), std::move(done));
    return;
  }
  // Large bodies are written from where their operations keep them, between the copied bytes.
  // They stay valid until the write ends: their operations complete only once replied to (after
  // the write) or once the connection is closed (which ends the write first).
  gather_.clear();
  const std::string& bytes = in_write_.bytes();
  std::size_t at = 0;
  for (const auto& e : in_write_.externals()) {
    if (e.at > at) gather_.emplace_back(bytes.data() + at, e.at - at);
    gather_.emplace_back(e.bytes.data(), e.bytes.size());
    at = e.at;
  }
  if (bytes.size() > at) gather_.emplace_back(bytes.data() + at, bytes.size() - at);
  stream_.async_write(gather_, std::move(done));
}

// ---------------------------------------------------------------------------------- read

void async_connection::start_read() {
  if (reading_ || !open_) return;
  reading_ = true;
  set_read_batch();
  if (reads_on_readiness()) {
    wait_readable();
  } else {
    read_some();
  }
}

bool async_connection::reads_on_readiness() const noexcept {
  // Over TLS, decrypted bytes may already wait inside the SSL stream while the socket has none,
  // so only a read can tell whether a reply is there. A deep pipeline waits for readiness too:
  // readiness honours SO_RCVLOWAT, whereas the read Asio tries at once takes whatever few
  // replies have arrived, and each such small batch costs a whole read-and-write cycle.
  return !endpoint_.is_tls() && (lane != 0 || rcvlowat_ > 1);
}

void async_connection::read_some() {
  if (!in_) in_ = std::make_unique_for_overwrite<char[]>(read_chunk);
  auto self = shared_from_this();
  stream_.async_read_some(asio::buffer(in_.get(), read_chunk),
                          [self](std::error_code ec, std::size_t n) { self->on_read(ec, n); });
}

void async_connection::on_read(std::error_code ec, std::size_t n) {
  reading_ = false;
  if (!open_) return;
  if (ec) {
    fail(ec);
    return;
  }
  if (!handle_bytes({in_.get(), n})) return;
  read_done();
}

void async_connection::wait_readable() {
  auto self = shared_from_this();
  stream_.socket().async_wait(asio::socket_base::wait_read, [self](std::error_code ec) {
    self->reading_ = false;
    if (!self->open_) return;
    if (ec) {
      self->fail(ec);
      return;
    }
    self->drain();
  });
}

void async_connection::drain() {
  read_scratch::lease buffer;
  for (;;) {
    std::error_code ec;
    const std::size_t n = stream_.socket().read_some(buffer.bytes(), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) break;  // spurious wake
    if (ec) {
      fail(ec);
      return;
    }
    if (!handle_bytes({static_cast<const char*>(buffer.bytes().data()), n})) return;
    if (n < buffer.bytes().size()) break;  // nothing more queued: no second system call
  }
  read_done();
}

bool async_connection::handle_bytes(std::string_view data) {
  received_any_ = true;
  while (!data.empty()) {
    const auto step = parser_.parse(data);
    if (step.status == proto::parse_status::error) {
      received_ = conn::printable_prefix(data);
      close(conn::unexpected_bytes_error(parser_.error(), data));
      return false;
    }
    data.remove_prefix(step.consumed);
    if (step.status == proto::parse_status::need_more) break;
    op_base* op = awaiting_.pop_front();
    if (op == nullptr) {
      received_ = conn::printable_prefix(data);
      close(make_error_code(errc::unexpected_reply));  // a reply nobody asked for
      return false;
    }
    proto::reply reply = parser_.take();
    listener_.on_reply(*this, op, reply);
    if (!open_) return false;  // the listener closed us (a protocol violation in the reply)
  }
  return true;
}

void async_connection::read_done() {
  listener_.on_read_done(*this);
  if (!open_) return;
  start_read();
}

void async_connection::set_read_batch() {
  // Waking for every reply costs a system call or two each; with many commands in flight, wait
  // until a batch of reply bytes is queued instead. The target never exceeds what the commands
  // already written must still produce (each reply is at least min_reply_size bytes), so the
  // reader never waits for bytes that will not come. Only for deep pipelines, though: beanstalkd
  // does not set TCP_NODELAY, and with few replies owed, a reader that does not read holds back
  // the ACK that the server's Nagle algorithm waits for (measured: 8 ms per reply with 100 in
  // flight). With a deep pipeline the server always has a segment's worth to send.
  if (!is_tcp_) return;  // Unix sockets ignore SO_RCVLOWAT for readiness
  // Over TLS, reply bytes already read may sit undecrypted in the SSL stream's buffer, so the
  // bytes still to come on the socket can be fewer than the replies still owed.
  if (endpoint_.is_tls()) return;
  std::size_t want = 1;
  if (awaiting_.size() >= deep_pipeline) {
    want = parser_.min_bytes_to_complete() +
           (awaiting_.size() - 1) * proto::reply_parser::min_reply_size;
  }
  want = std::clamp<std::size_t>(want, 1, read_batch_bytes);
  if (static_cast<int>(want) == rcvlowat_) return;
  const int value = static_cast<int>(want);
  if (::setsockopt(stream_.socket().native_handle(), SOL_SOCKET, SO_RCVLOWAT, &value,
                   sizeof value) == 0) {
    rcvlowat_ = value;
  }
}

void async_connection::fail(std::error_code ec) {
  ec = stream_.io_error(ec);
  // Asio's system category does not compare equal to std::errc values: the rule gets errno's.
  const std::error_code as_errno = ec.category() == asio::error::get_system_category()
                                       ? std::error_code(ec.value(), std::system_category())
                                       : ec;
  if (!is_tcp_ || endpoint_.is_tls() || !conn::may_be_tls_refusal(as_errno, received_any_)) {
    close(ec);
    return;
  }
  // Broken off before the first reply: a TLS server that refused plain text, or not? The
  // commands wait for the answer (bounded by the connect timeout), then fail with it.
  if (probing_) return;
  probing_ = true;
  async_tls_probe::start(strand_, peer_, endpoint_.host, options_.connect_timeout,
                         [self = shared_from_this(), ec](bool speaks_tls) {
                           self->probing_ = false;
                           self->close(speaks_tls ? make_error_code(errc::tls_reply_to_plain) : ec);
                         });
}

// -------------------------------------------------------------------------------- timers

void async_connection::arm_timer() {
  if (timer_armed_ || awaiting_.empty()) return;
  const auto deadline = awaiting_.front()->deadline;
  if (deadline == clock::time_point::max()) return;
  timer_armed_ = true;
  reply_timer_.expires_at(deadline);
  auto self = shared_from_this();
  reply_timer_.async_wait([self](std::error_code ec) { self->on_timer(ec); });
}

void async_connection::on_timer(std::error_code ec) {
  timer_armed_ = false;
  if (ec || !open_) return;
  // The timer is armed for the oldest command when it was armed, and not moved as replies come
  // (moving it per reply would cost a system call each). Check the command now oldest instead.
  if (!awaiting_.empty() && awaiting_.front()->deadline <= clock::now()) {
    close(make_error_code(errc::reply_timeout));
    return;
  }
  arm_timer();
}

// --------------------------------------------------------------------------------- close

void async_connection::close(std::error_code reason) {
  closed_ = true;
  if (!open_ && awaiting_.empty() && unwritten_.empty() && out_.empty()) {
    stream_.close();  // still connecting, or closed before: nothing to report
    connect_timer_.cancel();
    return;
  }
  open_ = false;
  stream_.close();
  connect_timer_.cancel();
  reply_timer_.cancel();
  parser_.reset();
  out_.clear();  // drops the views of bodies whose operations on_closed completes
  listener_.on_closed(*this, reason, std::move(awaiting_), std::move(unwritten_));
}

}  // namespace beanpole::detail
