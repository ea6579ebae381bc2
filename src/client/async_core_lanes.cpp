// The async client's reserve connections (lanes): reserves that wait on connections of their own,
// the jobs those connections hold, the actions routed to them and the probes of held jobs.
// conn::reserve_lanes decides; these carry out. See async_core_impl.hpp for the whole design.
#include <asio/post.hpp>
#include <mutex>

#include "client/async_core_impl.hpp"
#include "client/async_internal_ops.hpp"

namespace beanpole::detail {

void async_core::submit_waiting_reserve(op_base* op) {
  lanes_used_.store(true, std::memory_order_release);
  {
    std::lock_guard lock(mu_);
    op->serial = next_serial_++;
  }
  // Refused before anything is sent (a timeout outside 32 bits), like every other command.
  if (std::string scratch; auto ec = op->encode(scratch)) {
    complete_later(op, ec);
    return;
  }
  if (auto slot = op->cancellation_slot(); slot.is_connected()) {
    slot.assign([weak = weak_from_this(), serial = op->serial](asio::cancellation_type) {
      if (auto self = weak.lock()) {
        asio::post(self->strand_, [self, serial] {
          self->lanes_.on_cancel(serial, aborted());
          self->carry_out_lane_actions();
        });
      }
    });
  }
  asio::post(strand_, [self = shared_from_this(), op] {
    bool usable = false;
    bool closed = false;
    {
      std::lock_guard lock(self->mu_);
      usable = self->keeper_.may_wait();
      closed = self->keeper_.current() == state::closed;
    }
    if (!usable) {
      // Like every other command: nothing runs before async_connect, or after close().
      op->complete(closed ? aborted() : make_error_code(errc::not_connected), nullptr);
      return;
    }
    self->queued_reserves_.emplace(op->serial, op);
    std::optional<std::chrono::seconds> timeout;
    if (!op->wait.unbounded) timeout = op->wait.bounded;
    self->lanes_.on_request(op->serial, timeout, clock::now());
    self->carry_out_lane_actions();
  });
}

void async_core::route_job_action(op_base* op) {
  if (auto lane = lanes_.holder(op->job)) {
    if (auto it = lane_conns_.find(*lane); it != lane_conns_.end() && it->second->is_open()) {
      std::string bytes;
      if (auto ec = op->encode(bytes)) {
        op->complete(ec, nullptr);
        return;
      }
      op_queue ops;
      ops.push_back(op);
      it->second->send(bytes, ops);
      return;
    }
    op->complete(make_error_code(errc::lost_reservation), nullptr);
    return;
  }
  submit_main(op);
}

void async_core::track_lane(async_connection& conn, const op_base& op, const proto::reply& reply) {
  const auto now = clock::now();
  if (op.route == op_route::waiting) {
    if (reply.kind == proto::reply_kind::reserved) {
      lanes_.on_reserved(conn.lane, job_id{reply.number}, now);
    } else {
      lanes_.on_reserve_ended(conn.lane, now);
    }
  } else if (op.traits.acts_on_reserved && ends_holding(reply.kind)) {
    lanes_.on_job_settled(conn.lane, op.job, now);
  }
}

void async_core::carry_out_lane_actions() {
  for (auto actions = lanes_.take_actions(); !actions.empty(); actions = lanes_.take_actions()) {
    for (const auto& a : actions) carry_out(a);
  }
  if (auto next = lanes_.next_timer()) {
    if (!lane_timer_due_ || *next != *lane_timer_due_) {
      lane_timer_due_ = *next;
      lane_timer_.expires_at(*next);
      lane_timer_.async_wait([self = shared_from_this()](std::error_code ec) {
        if (ec) return;
        self->lane_timer_due_.reset();
        self->lanes_.on_timer(clock::now());
        self->carry_out_lane_actions();
      });
    }
  } else if (lane_timer_due_) {
    lane_timer_due_.reset();
    lane_timer_.cancel();
  }
}

void async_core::carry_out(const conn::lane_action& a) {
  using kind = conn::lane_action::kind;
  switch (a.what) {
    case kind::open:
      open_lane(a.lane);
      break;
    case kind::send_reserve:
      send_reserve(a);
      break;
    case kind::close:
      if (auto it = lane_conns_.find(a.lane); it != lane_conns_.end()) {
        auto keep = it->second;
        if (!keep->is_open()) lane_conns_.erase(it);  // still connecting: nothing to report
        keep->close(a.error);
      }
      break;
    case kind::complete:
      if (op_base* op = take_queued(a.op)) {
        if (a.error) {
          op->complete(a.error, nullptr);
        } else {  // its time ran out while it waited for a lane: no job, as the server says
          proto::reply timed_out;
          timed_out.kind = proto::reply_kind::timed_out;
          op->complete({}, &timed_out);
        }
      }
      break;
    case kind::probe:
      send_probe(a.lane, a.job);
      break;
    case kind::lost_reservation:
      emit(make_client_event(client_event::kind::lost_reservation, a.error, a.job));
      break;
    case kind::queued:
      emit(make_client_event(client_event::kind::reserve_queued));
      break;
  }
}

op_base* async_core::take_queued(std::uint64_t serial) {
  auto it = queued_reserves_.find(serial);
  if (it == queued_reserves_.end()) return nullptr;
  op_base* op = it->second;
  queued_reserves_.erase(it);
  return op;
}

void async_core::open_lane(std::uint64_t id) {
  auto lane = std::make_shared<async_connection>(strand_, options_, *this);
  lane->lane = id;
  lane_conns_.emplace(id, lane);
  lane->start_connect(endpoint_, [self = shared_from_this(), lane, id](std::error_code ec) {
    auto it = self->lane_conns_.find(id);
    if (it == self->lane_conns_.end() || it->second != lane) return;  // closed meanwhile
    if (ec) {
      self->lane_conns_.erase(it);
      self->remember_failure(ec, {});
      self->lanes_.on_open_failed(id, ec, clock::now(), self->unit_random());
    } else {
      self->lanes_.on_opened(id, clock::now());
    }
    self->carry_out_lane_actions();
  });
}

void async_core::send_reserve(const conn::lane_action& a) {
  op_base* op = take_queued(a.op);
  auto it = lane_conns_.find(a.lane);
  if (op == nullptr || it == lane_conns_.end()) return;
  async_connection& lane = *it->second;
  {
    std::lock_guard lock(mu_);
    send_tube_sync(lane, /*with_use=*/false);
  }
  // The reserve the machine asks for: what is left of a reserve-with-timeout's wait.
  std::string bytes;
  if (a.timeout) {
    (void)proto::reserve_with_timeout_command{*a.timeout}.encode(bytes);
    op->wait = {.unbounded = false, .bounded = *a.timeout};
  } else {
    (void)proto::reserve_command{}.encode(bytes);
  }
  op_queue ops;
  ops.push_back(op);
  lane.send(bytes, ops);
}

void async_core::send_probe(std::uint64_t lane_id, job_id job) {
  auto it = lane_conns_.find(lane_id);
  if (it == lane_conns_.end()) return;
  auto* op = new probe_op(
      job, [self = shared_from_this(), lane_id, job](std::optional<std::string> job_state) {
        // Unknown (the connection failed): the machine hears of that through on_closed.
        if (!job_state) return;
        self->lanes_.on_probe_answer(lane_id, job, *job_state == "reserved", clock::now());
        self->carry_out_lane_actions();
      });
  std::string bytes;
  (void)op->encode(bytes);
  op_queue ops;
  ops.push_back(op);
  it->second->send(bytes, ops);
}

}  // namespace beanpole::detail
