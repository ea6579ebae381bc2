// move_jobs and flush_tube: job by job over the blocking client. The order of the steps is what
// makes an interruption safe; see the header.
#include "beanpole/admin/jobs.hpp"

#include <chrono>
#include <span>

#include "beanpole/error.hpp"

namespace beanpole {
namespace {

using std::chrono::seconds;
using std::chrono::steady_clock;

/// The client's used tube, remembered so that `use` is sent only when it changes.
class used_tube {
 public:
  explicit used_tube(client& c) : c_(c) {}
  std::error_code use(const tube_name& t) {
    if (current_ == &t) return {};
    std::error_code ec;
    c_.use(t, ec);
    current_ = ec ? nullptr : &t;
    return ec;
  }

 private:
  client& c_;
  const tube_name* current_ = nullptr;
};

std::optional<job> peek_state(client& c, job_state s, std::error_code& ec) {
  switch (s) {
    case job_state::ready:
      return c.peek_ready(ec);
    case job_state::delayed:
      return c.peek_delayed(ec);
    case job_state::buried:
      return c.peek_buried(ec);
  }
  return c.peek_ready(ec);
}

/// How long the copy of a buried job stays delayed before it is buried (see move_jobs): long
/// enough that no worker takes it in between even on a slow connection.
constexpr seconds parking_delay{3600};

bool limit_reached(const std::optional<std::uint64_t>& limit, std::uint64_t done) {
  return limit && done >= *limit;
}

/// The source job as it was before it was reserved: what a copy must keep.
struct source_job {
  job_id id;
  job_state state = job_state::ready;
  priority pri = default_priority;
  seconds ttr{0};
  steady_clock::time_point due;  ///< when a delayed job becomes ready

  seconds delay_left() const {
    if (state != job_state::delayed) return seconds{0};
    const auto left = due - steady_clock::now();
    // Round up: a copy never becomes ready before its source would have.
    const auto s = std::chrono::ceil<seconds>(left);
    return s.count() > 0 ? s : seconds{0};
  }
};

/// Puts a reserved source job back as it was. Best effort: the connection may be gone, in which
/// case the server has already released it.
void put_back(client& c, const source_job& s) {
  if (!c.is_open()) return;
  std::error_code ignored;
  if (s.state == job_state::buried) {
    c.bury(s.id, s.pri, ignored);
  } else {
    c.release(s.id, s.pri, s.delay_left(), ignored);
  }
}

}  // namespace

std::string_view to_string(job_state s) noexcept {
  switch (s) {
    case job_state::ready:
      return "ready";
    case job_state::delayed:
      return "delayed";
    case job_state::buried:
      return "buried";
  }
  return "ready";
}

std::optional<job_state> parse_job_state(std::string_view text) noexcept {
  for (const auto s : {job_state::ready, job_state::delayed, job_state::buried}) {
    if (text == to_string(s)) return s;
  }
  return std::nullopt;
}

move_result move_jobs(client& c, const tube_name& from, const tube_name& to,
                      const move_options& opts) {
  move_result r;
  if (from == to) {
    r.ec = make_error_code(errc::value_out_of_range);
    return r;
  }
  used_tube used(c);
  for (;;) {
    if (limit_reached(opts.limit, r.moved)) return r;
    if (opts.stop_requested && opts.stop_requested()) {
      r.stopped = true;
      return r;
    }
    // 1. The next job and what its copy must keep. stats-job comes before reserve-job: once
    // reserved, time-left counts down the TTR instead of the delay.
    if ((r.ec = used.use(from))) return r;
    const auto found = peek_state(c, opts.state, r.ec);
    if (r.ec || !found) return r;
    const auto st = c.stats_job(found->id, r.ec);
    if (r.ec == errc::not_found) continue;  // deleted in between
    if (r.ec) return r;
    if (st.state != to_string(opts.state) || st.tube != from.str()) continue;  // changed: next
    source_job src{found->id, opts.state, st.pri, seconds(st.ttr),
                   steady_clock::now() + seconds(st.time_left)};

    // 2. Take it by id, so that no worker reserves it while it is moved.
    auto held = c.reserve_job(src.id, r.ec);
    if (r.ec) {
      r.source = src.id;
      return r;
    }
    if (!held) continue;  // a worker took it (or it was deleted) after the peek

    // 3. The copy. Until its put is acknowledged the source stays where it is.
    if ((r.ec = used.use(to))) {
      r.source = src.id;
      put_back(c, src);
      return r;
    }
    put_options copy_opts;
    copy_opts.pri = src.pri;
    copy_opts.ttr = src.ttr;
    // A copy of a buried job is put parked (delayed), so that no worker can take it before it
    // is buried in its turn: a put can only make a ready or delayed job.
    const bool bury_copy = src.state == job_state::buried;
    copy_opts.delay = bury_copy ? parking_delay : src.delay_left();
    const job_id copy = c.put(held->body(), copy_opts, r.ec);
    if (r.ec == errc::buried) {
      // The copy exists, buried (the server is out of memory): the job is in both tubes.
      r.source = src.id;
      r.copy = copy;
      r.duplicate = true;
      put_back(c, src);
      return r;
    }
    if (r.ec) {
      // outcome_unknown closed the connection: the server released the source, and the copy
      // may exist. Otherwise the copy was refused (JOB_TOO_BIG, DRAINING...): put the source
      // back as it was.
      r.source = src.id;
      put_back(c, src);
      return r;
    }
    if (bury_copy) {
      auto parked = c.reserve_job(copy, r.ec);
      if (!r.ec && !parked) r.ec = make_error_code(errc::not_found);
      if (!r.ec) c.bury(copy, src.pri, r.ec);
      if (r.ec) {  // the copy exists (parked, or ready if the connection dropped): both tubes
        r.source = src.id;
        r.copy = copy;
        r.duplicate = true;
        put_back(c, src);
        return r;
      }
    }

    // 4. The copy is acknowledged: now, and only now, the source goes.
    c.remove(src.id, r.ec);
    if (r.ec) {
      r.source = src.id;
      r.copy = copy;
      r.duplicate = true;
      return r;
    }
    ++r.moved;
    if (opts.on_progress) opts.on_progress(move_progress{r.moved, src.id, copy});
  }
}

flush_result flush_tube(client& c, const tube_name& tube, const flush_options& opts) {
  flush_result r;
  c.use(tube, r.ec);
  if (r.ec) return r;
  static constexpr job_state every_state[] = {job_state::buried, job_state::delayed,
                                              job_state::ready};
  const std::span<const job_state> states =
      opts.states.empty() ? std::span<const job_state>(every_state) : opts.states;
  for (const auto state : states) {
    for (;;) {
      if (limit_reached(opts.limit, r.deleted)) return r;
      if (opts.stop_requested && opts.stop_requested()) {
        r.stopped = true;
        return r;
      }
      const auto found = peek_state(c, state, r.ec);
      if (r.ec) return r;
      if (!found) break;
      c.remove(found->id, r.ec);
      if (r.ec == errc::not_found) {  // a worker reserved it after the peek: not ours to delete
        r.ec.clear();
        continue;
      }
      if (r.ec) return r;
      ++r.deleted;
      if (opts.on_progress) opts.on_progress(flush_progress{r.deleted, found->id, state});
    }
  }
  return r;
}

}  // namespace beanpole
