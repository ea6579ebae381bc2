#include "chaos_support.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <condition_variable>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <vector>

#include "beanpole/error.hpp"

namespace beanpole::testing {

void put_ledger::record(std::size_t i, std::error_code ec, job_id id) {
  if (!ec || ec == errc::buried) {
    states_[i] = state::acknowledged;
    ids_[i] = id;
  } else if (ec == errc::outcome_unknown) {
    states_[i] = state::unknown;
  } else {
    states_[i] = state::not_sent;
  }
}

std::vector<std::size_t> put_ledger::to_send() const {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < states_.size(); ++i) {
    if (states_[i] == state::not_sent) out.push_back(i);
  }
  return out;
}

std::size_t put_ledger::count(state s) const {
  std::size_t n = 0;
  for (const auto st : states_) n += st == s ? 1 : 0;
  return n;
}

void put_ledger::reconcile(const std::function<client()>& connect, const tube_name& tube,
                           std::size_t& unknown_found, std::size_t& torn) const {
  std::optional<client> direct(connect());
  std::map<std::string, std::size_t> index_of;  // body -> put
  for (std::size_t i = 0; i < states_.size(); ++i) index_of.emplace(body(i), i);

  // Every acknowledged put, by the id it was acknowledged with, with its body.
  std::set<std::uint64_t> acknowledged;
  std::uint64_t highest = 0;
  for (std::size_t i = 0; i < states_.size(); ++i) {
    if (states_[i] != state::acknowledged) continue;
    acknowledged.insert(ids_[i].value);
    highest = std::max(highest, ids_[i].value);
    std::error_code ec;
    const auto j = direct->peek(ids_[i], ec);
    EXPECT_TRUE(!ec && j && j->body == body(i))
        << body(i) << " was acknowledged as job " << ids_[i].value << ": "
        << (ec  ? ec.message()
            : j ? "its body is " + j->body
                : "not found");
  }

  // Everything else in the tube, found by id rather than drained with reserve: a put cut short
  // by a SIGKILL can come back from the binlog as a job whose body is zeros without its CRLF,
  // whose body no client can read (a peek of it fails with errc::corrupt_job). Such a job is
  // counted as torn: its put was never acknowledged.
  // Ids are given out in order, and only puts of this test reach this server.
  const std::uint64_t last_id =
      std::max<std::uint64_t>(highest, acknowledged.size() + count(state::unknown)) + 64;
  std::vector<int> times(states_.size(), 0);
  unknown_found = 0;
  torn = 0;
  for (std::uint64_t id = 1; id <= last_id; ++id) {
    if (acknowledged.count(id) != 0) continue;
    std::error_code ec;
    const auto stats = direct->stats_job(job_id{id}, ec);
    if (ec == errc::not_found) continue;
    ASSERT_FALSE(ec) << "stats-job " << id << ": " << ec.message();
    if (stats.tube != tube.view()) continue;
    const auto j = direct->peek(job_id{id}, ec);
    if (ec) {
      ++torn;
      std::cerr << "job " << id << " cannot be read: " << ec.message() << "\n";
      if (!direct->is_open()) direct.emplace(connect());
      continue;
    }
    ASSERT_TRUE(j.has_value()) << "job " << id << " vanished";
    const auto it = index_of.find(j->body);
    if (it == index_of.end()) {
      ADD_FAILURE() << "job " << id << " holds " << j->body << ", which no put of the test made";
      continue;
    }
    const std::size_t i = it->second;
    EXPECT_EQ(states_[i], state::unknown)
        << body(i) << " is also job " << id << " ("
        << (states_[i] == state::acknowledged ? "acknowledged as another job" : "never written")
        << ")";
    EXPECT_EQ(++times[i], 1) << body(i) << " (outcome unknown) was put twice";
    ++unknown_found;
  }
  EXPECT_LE(unknown_found + torn, count(state::unknown))
      << "more jobs than puts whose outcome is unknown";
}

bool put_batch(async_client& c, put_ledger& ledger, const std::vector<std::size_t>& indices,
               std::chrono::milliseconds limit, const std::function<void()>& in_flight) {
  struct state {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<std::pair<std::error_code, job_id>> results;
    std::size_t done = 0;
  };
  // Shared: a callback that comes after a timed-out wait must not touch a dead frame.
  auto st = std::make_shared<state>();
  st->results.resize(indices.size());
  for (std::size_t k = 0; k < indices.size(); ++k) {
    c.async_put(ledger.body(indices[k]), put_options{}, [st, k](std::error_code ec, job_id id) {
      const std::lock_guard lock(st->mu);
      st->results[k] = {ec, id};
      if (++st->done == st->results.size()) st->cv.notify_all();
    });
  }
  if (in_flight) in_flight();
  std::unique_lock lock(st->mu);
  if (!st->cv.wait_for(lock, limit, [&] { return st->done == st->results.size(); })) return false;
  for (std::size_t k = 0; k < indices.size(); ++k) {
    ledger.record(indices[k], st->results[k].first, st->results[k].second);
  }
  return true;
}

}  // namespace beanpole::testing
