// The async client's main connection, its life: opening it, losing it (what each command then
// fails with), reconnecting as conn::reconnect_machine says, and the deadlines of the commands
// that wait for it meanwhile. See async_core_impl.hpp for the whole design.
#include <asio/post.hpp>
#include <mutex>
#include <tuple>
#include <vector>

#include "client/async_core_impl.hpp"
#include "client/async_internal_ops.hpp"
#include "conn/rules.hpp"

namespace beanpole::detail {

// --------------------------------------------------------- connection_listener (strand)

void async_core::on_closed(async_connection& conn, std::error_code reason, op_queue written,
                           op_queue unwritten) {
  // A read batch cut short by a protocol violation still settles what its replies did.
  if (in_read_batch_) end_read_batch();
  const auto keep = conn.shared_from_this();  // the maps below may hold its last reference
  const bool is_main = &conn == main_.get();
  remember_failure(reason, conn.received(), conn.tls_detail());
  // The client's state changes before any handler hears of the failure, so that a command a
  // handler issues sees the connection as gone (not_connected), not as still up.
  op_queue stranded;
  std::optional<conn::reconnect_machine::decision> retry;
  if (is_main) {
    main_ = nullptr;
    std::tie(stranded, retry) = main_down();
    if (!is_closed()) emit(make_client_event(client_event::kind::disconnected, reason));
    for (const std::uint64_t id : conn.held) {
      emit(make_client_event(client_event::kind::lost_reservation, reason, job_id{id}));
    }
    conn.held.clear();
  } else {
    lane_conns_.erase(conn.lane);
    lanes_.on_closed(conn.lane, reason, clock::now());
  }
  const bool cancelled = reason == asio::error::operation_aborted;
  conn::lost_outcomes(written, unwritten, reason, cancelled,
                      [&](op_base* op, std::error_code ec) { fail(op, is_main, ec); });
  if (!is_main) {
    carry_out_lane_actions();
    return;
  }
  // Queued and never handed to a connection: known not to have happened.
  fail_all(stranded, cancelled ? reason : make_error_code(errc::connection_lost));
  if (retry) schedule_retry(*retry, reason);
  report_gave_up(reason);
}

// ------------------------------------------- main connection: waiting for a connection

void async_core::arm_deadline_timer() {  // strand
  std::optional<clock::time_point> next;
  {
    std::lock_guard lock(mu_);
    if (keeper_.current() == state::up) return;
    next = pipeline_.next_deadline();
  }
  if (!next) return;
  wait_timer_.expires_at(*next);
  wait_timer_.async_wait([self = shared_from_this()](std::error_code ec) {
    if (!ec) self->expire_waiting();
  });
}

void async_core::expire_waiting() {  // strand
  op_queue expired;
  {
    std::lock_guard lock(mu_);
    if (keeper_.current() == state::up) return;
    expired = pipeline_.expire(clock::now());
    // The commands after them were queued in the tube those `use`s switched to.
    for (const op_base* op = expired.front(); op != nullptr; op = op->next) {
      if (op->effect == tube_effect::use) queued_from_ = *op->tube;
    }
  }
  fail_all(expired, errc::not_connected);
  arm_deadline_timer();
}

// ----------------------------------------------------- main connection: life (strand)

void async_core::open_main() {
  main_ = std::make_shared<async_connection>(strand_, options_, *this);
  auto conn = main_;
  conn->start_connect(endpoint_, [self = shared_from_this(), conn](std::error_code ec) {
    self->main_connected(conn, ec);
  });
}

void async_core::main_connected(const std::shared_ptr<async_connection>& conn, std::error_code ec) {
  if (conn != main_) return;  // superseded (closed meanwhile)
  if (ec) {
    remember_failure(ec, {}, conn->tls_detail());
    main_ = nullptr;
    // State first, handlers after (see on_closed). When reconnecting, the waiters hear of
    // this failure and commands already submitted wait for a later try.
    auto [stranded, retry] = main_down();
    complete_connect_waiters(ec);
    fail_all(stranded, ec);
    if (retry) schedule_retry(*retry, ec);
    report_gave_up(ec);
    return;
  }
  bool again = false;
  {
    std::lock_guard lock(mu_);
    if (keeper_.current() == state::closed) return;
    // Before anything else goes out: the used tube and the watch list of the client.
    send_tube_sync(*conn, /*with_use=*/true);
    again = keeper_.on_connected();
    pipeline_.on_up();
  }
  wait_timer_.cancel();
  emit(make_client_event(again ? client_event::kind::reconnected : client_event::kind::connected));
  complete_connect_waiters({});
  flush();
}

std::pair<op_queue, std::optional<conn::reconnect_machine::decision>> async_core::main_down() {
  bool arm_timer = false;
  std::pair<op_queue, std::optional<conn::reconnect_machine::decision>> out;
  {
    std::lock_guard lock(mu_);
    if (keeper_.current() == state::closed) return {};
    const auto now = clock::now();
    auto decision = keeper_.on_failed(now, unit_random());
    if (!decision.wait && options_.reconnect.enabled) gave_up_ = true;
    // The commands that wait now wait for the next connection, each within its deadline.
    out.first = pipeline_.on_down(now, decision.wait.has_value(), arm_timer);
    if (decision.wait) out.second = decision;
    if (pipeline_.empty()) queued_from_ = tubes_.used();
  }
  if (arm_timer) arm_deadline_timer();
  return out;
}

void async_core::schedule_retry(const conn::reconnect_machine::decision& d, std::error_code why) {
  const auto wait = *d.wait;
  emit(make_client_event(client_event::kind::reconnecting, why, {}, d.attempt, wait));
  retry_timer_.expires_after(wait);
  retry_timer_.async_wait([self = shared_from_this()](std::error_code ec) {
    if (ec) return;
    bool open = false;
    {
      std::lock_guard lock(self->mu_);
      open = self->keeper_.on_retry_due();
    }
    if (open) self->open_main();
  });
}

bool async_core::is_closed() {
  std::lock_guard lock(mu_);
  return keeper_.current() == state::closed;
}

void async_core::send_tube_sync(async_connection& conn, bool with_use) {
  std::vector<conn::tube_command> cmds;
  tubes_.sync(conn.tubes, with_use ? &queued_from_ : nullptr, cmds);
  if (cmds.empty()) return;
  std::string bytes;
  op_queue ops;
  for (auto& cmd : cmds) {
    auto* op = new tube_op(std::move(cmd));
    (void)op->encode(bytes);  // tube names are valid by construction: never refused
    ops.push_back(op);
  }
  conn.send(bytes, ops);
}

void async_core::complete_connect_waiters(std::error_code ec) {
  op_queue waiters;
  waiters.splice_back(connect_waiters_);
  while (op_base* op = waiters.pop_front()) op->complete(ec, nullptr);
}

void async_core::report_gave_up(std::error_code why) {
  bool gave_up = false;
  {
    std::lock_guard lock(mu_);
    gave_up = std::exchange(gave_up_, false);
  }
  if (gave_up) emit(make_client_event(client_event::kind::gave_up, why));
}

}  // namespace beanpole::detail
