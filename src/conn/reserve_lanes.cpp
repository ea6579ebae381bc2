#include "conn/reserve_lanes.hpp"

#include <algorithm>
#include <ostream>
#include <utility>

namespace beanpole::conn {

lane_action act(lane_action::kind what, std::uint64_t lane, std::uint64_t op, job_id job,
                std::error_code ec, std::optional<std::chrono::seconds> timeout) {
  lane_action a;
  a.what = what;
  a.lane = lane;
  a.op = op;
  a.job = job;
  a.error = ec;
  a.timeout = timeout;
  return a;
}

std::ostream& operator<<(std::ostream& os, const lane_action& a) {
  static constexpr const char* names[] = {"open",  "send_reserve",     "close", "complete",
                                          "probe", "lost_reservation", "queued"};
  os << names[static_cast<int>(a.what)] << "{lane " << a.lane << ", op " << a.op << ", job "
     << a.job.value;
  if (a.error) os << ", " << a.error.message();
  if (a.timeout) os << ", timeout " << a.timeout->count() << "s";
  return os << '}';
}

reserve_lanes::reserve_lanes(lane_config config) : config_(config) {
  config_.max_lanes = std::max<std::size_t>(config_.max_lanes, 1);
}

std::vector<lane_action> reserve_lanes::take_actions() {
  return std::exchange(actions_, {});
}

// ---------------------------------------------------------------------------------- events

void reserve_lanes::on_request(std::uint64_t op, std::optional<std::chrono::seconds> timeout,
                               time_point now) {
  if (shut_down_) {
    push(act(lane_action::kind::complete, 0, op, {}, shutdown_reason_));
    return;
  }
  waiting w;
  w.op = op;
  if (timeout) w.deadline = now + *timeout;
  queue_.push_back(w);
  serve(now);
}

void reserve_lanes::on_cancel(std::uint64_t op, std::error_code aborted) {
  if (auto it =
          std::find_if(queue_.begin(), queue_.end(), [&](const waiting& w) { return w.op == op; });
      it != queue_.end()) {
    queue_.erase(it);
    push(act(lane_action::kind::complete, 0, op, {}, aborted));
    return;
  }
  for (const auto& [id, l] : lanes_) {
    if (l.state == lane_state::reserving && l.op == op) {
      push(act(lane_action::kind::close, id, op, {}, aborted));
      return;
    }
  }
}

void reserve_lanes::on_opened(std::uint64_t lane_id, time_point now) {
  auto it = lanes_.find(lane_id);
  if (it == lanes_.end() || it->second.state != lane_state::opening) return;
  it->second.state = lane_state::idle;
  failed_opens_ = 0;
  open_after_.reset();
  serve(now);
}

void reserve_lanes::on_open_failed(std::uint64_t lane_id, std::error_code ec, time_point now,
                                   double unit_random) {
  if (lanes_.erase(lane_id) == 0) return;
  // Whether or not the client reconnects, the next open waits: a failure such as "too many open
  // files" would otherwise be retried in a tight loop.
  open_after_ = now + config_.retry.delay(++failed_opens_, unit_random);
  if (lanes_.empty() && !config_.retry_failed_opens) {
    fail_queue(ec);  // no lane is left to serve them, and none will be opened
    return;
  }
  serve(now);  // the lanes still open serve the queue meanwhile
}

void reserve_lanes::on_reserved(std::uint64_t lane_id, job_id job, time_point /*now*/) {
  auto it = lanes_.find(lane_id);
  if (it == lanes_.end()) return;
  lane& l = it->second;
  l.op = 0;
  l.jobs.insert(job);
  l.state = lane_state::holding;
  holders_[job] = lane_id;
}

void reserve_lanes::on_reserve_ended(std::uint64_t lane_id, time_point now) {
  auto it = lanes_.find(lane_id);
  if (it == lanes_.end()) return;
  lane& l = it->second;
  l.op = 0;
  l.state = l.jobs.empty() ? lane_state::idle : lane_state::holding;
  serve(now);
}

void reserve_lanes::on_job_settled(std::uint64_t lane_id, job_id job, time_point now) {
  auto it = lanes_.find(lane_id);
  if (it == lanes_.end()) return;
  settle(lane_id, it->second, job, now);
  serve(now);
}

void reserve_lanes::on_probe_answer(std::uint64_t lane_id, job_id job, bool still_reserved,
                                    time_point now) {
  if (probes_in_flight_ > 0) --probes_in_flight_;
  auto it = lanes_.find(lane_id);
  if (it != lanes_.end()) {
    if (it->second.probes > 0) --it->second.probes;
    if (!still_reserved) settle(lane_id, it->second, job, now);
  }
  if (probes_in_flight_ == 0) next_probe_ = now + config_.probe_interval;
  serve(now);
}

void reserve_lanes::on_closed(std::uint64_t lane_id, std::error_code reason, time_point now) {
  auto it = lanes_.find(lane_id);
  if (it == lanes_.end()) return;
  lane& l = it->second;
  for (const job_id job : l.jobs) {
    if (auto h = holders_.find(job); h != holders_.end() && h->second == lane_id) holders_.erase(h);
    push(act(lane_action::kind::lost_reservation, lane_id, 0, job, reason));
  }
  probes_in_flight_ -= std::min<std::size_t>(probes_in_flight_, l.probes);
  lanes_.erase(it);
  serve(now);
}

void reserve_lanes::on_timer(time_point now) {
  expire(now);
  serve(now);
}

void reserve_lanes::on_shutdown(std::error_code reason) {
  if (shut_down_) return;
  fail_queue(reason);
  for (const auto& [id, l] : lanes_) push(act(lane_action::kind::close, id, 0, {}, reason));
  // Forgotten at once: what their closing reports is the driver's to fail, and nothing of them
  // is served or reported again.
  lanes_.clear();
  holders_.clear();
  shut_down_ = true;
  shutdown_reason_ = reason;
}

// --------------------------------------------------------------------------------- queries

std::optional<time_point> reserve_lanes::next_timer() const {
  if (queue_.empty()) return std::nullopt;
  std::optional<time_point> next;
  auto consider = [&](std::optional<time_point> t) {
    if (t && (!next || *t < *next)) next = t;
  };
  for (const waiting& w : queue_) consider(w.deadline);
  if (lanes_.size() < config_.max_lanes) consider(open_after_);
  if (probes_in_flight_ == 0) consider(next_probe_);
  return next;
}

std::optional<std::uint64_t> reserve_lanes::holder(job_id job) const {
  if (auto it = holders_.find(job); it != holders_.end()) return it->second;
  return std::nullopt;
}

// --------------------------------------------------------------------------------- private

void reserve_lanes::serve(time_point now) {
  if (shut_down_) return;
  expire(now);
  for (auto& [id, l] : lanes_) {
    if (queue_.empty()) break;
    if (l.state != lane_state::idle) continue;
    send(id, l, queue_.front(), now);
    queue_.pop_front();
  }
  if (queue_.empty()) return;
  auto opening = [&] {
    return static_cast<std::size_t>(std::count_if(lanes_.begin(), lanes_.end(), [](const auto& e) {
      return e.second.state == lane_state::opening;
    }));
  };
  const bool may_open = !open_after_ || now >= *open_after_;
  for (std::size_t wanted = queue_.size() > opening() ? queue_.size() - opening() : 0;
       wanted > 0 && may_open && lanes_.size() < config_.max_lanes; --wanted) {
    const std::uint64_t id = next_lane_++;
    lanes_.emplace(id, lane{});
    push(act(lane_action::kind::open, id));
  }
  if (lanes_.size() < config_.max_lanes) return;
  // Every lane the client may open is taken: the rest wait. Say so once per reserve, and ask
  // the server about held jobs that may have run out their time to run.
  std::size_t capacity = opening();
  bool starved = false;
  for (waiting& w : queue_) {
    if (capacity > 0) {
      --capacity;  // a lane being opened will take this one
      continue;
    }
    starved = true;
    if (!w.reported_queued) {
      w.reported_queued = true;
      push(act(lane_action::kind::queued, 0, w.op));
    }
  }
  if (starved) maybe_probe(now);
}

void reserve_lanes::send(std::uint64_t lane_id, lane& l, const waiting& w, time_point now) {
  lane_action a = act(lane_action::kind::send_reserve, lane_id, w.op);
  if (w.deadline) {
    // What is left of its wait, to the nearest whole second (the protocol's unit): opening a
    // lane takes milliseconds and must not turn `reserve-with-timeout 1` into 0, and a reserve
    // never waits more than half a second past its deadline.
    const auto left = std::chrono::round<std::chrono::seconds>(*w.deadline - now);
    a.timeout = std::max(left, std::chrono::seconds{0});
  }
  l.state = lane_state::reserving;
  l.op = w.op;
  push(a);
}

void reserve_lanes::maybe_probe(time_point now) {
  if (probes_in_flight_ > 0 || (next_probe_ && now < *next_probe_)) return;
  for (auto& [id, l] : lanes_) {
    if (l.state != lane_state::holding) continue;
    for (const job_id job : l.jobs) {
      push(act(lane_action::kind::probe, id, 0, job));
      ++l.probes;
      ++probes_in_flight_;
    }
  }
  // Nothing held to ask about (every lane is reserving or opening): the next reply or open
  // will serve the queue, no timer needed.
}

void reserve_lanes::expire(time_point now) {
  for (auto it = queue_.begin(); it != queue_.end();) {
    if (it->deadline && *it->deadline <= now) {
      push(act(lane_action::kind::complete, 0, it->op));  // no job in time
      it = queue_.erase(it);
    } else {
      ++it;
    }
  }
}

void reserve_lanes::settle(std::uint64_t lane_id, lane& l, job_id job, time_point /*now*/) {
  if (l.jobs.erase(job) == 0) return;
  if (auto h = holders_.find(job); h != holders_.end() && h->second == lane_id) holders_.erase(h);
  if (l.jobs.empty() && l.state == lane_state::holding) l.state = lane_state::idle;
}

void reserve_lanes::fail_queue(std::error_code ec) {
  for (const waiting& w : queue_) push(act(lane_action::kind::complete, 0, w.op, {}, ec));
  queue_.clear();
}

}  // namespace beanpole::conn
