// One pipelined connection of the async client: a socket, the commands written to it and awaiting
// replies (in order), the reply parser and the reply-deadline timer. It knows nothing of routing,
// tube state or reconnecting; it reports replies and failure to its owner. Strand-only.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/buffer.hpp>
#include <asio/generic/stream_protocol.hpp>
#include <asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "beanpole/endpoint.hpp"
#include "beanpole/options.hpp"
#include "beanpole/proto/reply_parser.hpp"
#include "client/async_stream.hpp"
#include "client/op_queue.hpp"
#include "conn/request_buffer.hpp"
#include "conn/tube_state.hpp"

namespace beanpole::detail {

class async_connection;

/// What a connection tells its owner. Called on the strand.
class connection_listener {
 public:
  /// A reply for `op`, the oldest command awaiting one. The listener completes `op`.
  virtual void on_reply(async_connection& conn, op_base* op, proto::reply& reply) = 0;
  /// The connection failed (`ec`) or was closed. `written` holds the commands that were written
  /// (or being written) and got no reply; `unwritten` the commands never handed to the socket.
  /// The listener completes them.
  virtual void on_closed(async_connection& conn, std::error_code ec, op_queue written,
                         op_queue unwritten) = 0;
  /// A write finished and the connection can take more.
  virtual void on_writable(async_connection& conn) = 0;
  /// A batch of bytes read from the socket has been handled (every reply in it reported).
  virtual void on_read_done(async_connection& conn) = 0;

 protected:
  ~connection_listener() = default;
};

class async_connection : public std::enable_shared_from_this<async_connection> {
 public:
  using socket_type = asio::generic::stream_protocol::socket;

  async_connection(const asio::any_io_executor& strand, const connection_options& options,
                   connection_listener& listener);

  /// Connects to `ep` (every resolved address in turn) within the connect timeout.
  void start_connect(const endpoint& ep, std::function<void(std::error_code)> done);

  /// Appends `requests` (those of `ops`, in order) to what this connection writes, and queues
  /// `ops` for replies. `requests` is left empty, for reuse. Starts a write unless one is running.
  void send(conn::request_buffer& requests, op_queue& ops);
  /// The same for requests without a body left out (see `op_base::encode_request`).
  void send(std::string& bytes, op_queue& ops);

  /// Closes the socket; `on_closed` follows with the unanswered commands (unless already closed).
  void close(std::error_code reason);

  bool is_open() const noexcept { return open_; }
  bool is_writing() const noexcept { return writing_; }
  /// Commands written or queued for writing that await a reply.
  std::size_t awaiting() const noexcept { return awaiting_.size() + unwritten_.size(); }

  /// The first bytes of the reply that broke the protocol (escaped), if one did.
  const std::string& received() const noexcept { return received_; }
  /// What TLS said about a TLS failure of this connection, if there was one.
  const std::string& tls_detail() const noexcept { return stream_.tls_detail(); }

  // State the owner keeps per connection (strand-only).
  std::unordered_set<std::uint64_t> held;  ///< jobs the main connection reserved (reserve-job)
  conn::applied_tubes tubes;               ///< the tube state this connection has
  std::uint64_t lane = 0;                  ///< the reserve lane it is (0: the main connection)

 private:
  void try_connect(
      const std::shared_ptr<std::vector<asio::generic::stream_protocol::endpoint>>& eps,
      std::size_t index, std::error_code last,
      const std::shared_ptr<std::function<void(std::error_code)>>& done);
  void connected(const std::shared_ptr<std::function<void(std::error_code)>>& done);
  void start_write();
  // Two readers. The main connection reads into a buffer of its own, asking for more as soon as
  // a batch is handled. A reserve connection waits for readiness with no buffer and then drains
  // the socket into one lent for the moment: it waits for a job nearly all its life, and a
  // thousand of them must not hold a read buffer each. A deep pipeline reads on readiness too,
  // so that SO_RCVLOWAT batches its replies (see reads_on_readiness). TLS always reads.
  void start_read();
  bool reads_on_readiness() const noexcept;
  void read_some();
  void on_read(std::error_code ec, std::size_t n);
  void wait_readable();
  void drain();
  /// Feeds `data` to the parser and reports each reply; false once the connection is closed.
  bool handle_bytes(std::string_view data);
  void read_done();
  /// A read or write failed with `ec`: closes with its beanpole error, once it is known whether
  /// a TLS server refused plain text (see net/tls_probe.hpp).
  void fail(std::error_code ec);
  void arm_timer();
  void set_read_batch();
  void on_timer(std::error_code ec);

  asio::any_io_executor strand_;
  connection_options options_;
  connection_listener& listener_;
  async_stream stream_;
  endpoint endpoint_;                                       // of the connect under way, for TLS
  std::chrono::steady_clock::time_point connect_deadline_;  // of the connect under way
  asio::steady_timer connect_timer_;
  asio::steady_timer reply_timer_;
  bool timer_armed_ = false;
  bool open_ = false;
  bool closed_ = false;  // close() was called: a connect still under way must not complete
  bool writing_ = false;
  bool reading_ = false;
  bool is_tcp_ = false;
  bool received_any_ = false;  // a byte came on this connection (see fail)
  bool probing_ = false;       // fail() is asking the server whether it speaks TLS
  asio::generic::stream_protocol::endpoint peer_;  // the address connected to
  int rcvlowat_ = 1;                               // SO_RCVLOWAT now in force
  conn::request_buffer out_;                       // requests not yet handed to the socket
  conn::request_buffer in_write_;                  // requests being written
  std::vector<asio::const_buffer> gather_;  // in_write_ as buffers, when it holds large bodies
  op_queue awaiting_;                       // written or being written, in wire order
  op_queue unwritten_;                      // queued in out_, in wire order
  proto::reply_parser parser_;
  std::unique_ptr<char[]> in_;  // the main connection's read buffer (see start_read)
  std::string received_;
};

}  // namespace beanpole::detail
