#include "chaos_support.hpp"

#include <gtest/gtest.h>

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>

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

void put_ledger::reconcile(client& direct, const tube_name& tube,
                           std::size_t& unknown_found) const {
  direct.watch(tube);
  if (tube.view() != "default") direct.ignore(tube_name("default"));
  std::map<std::string, std::vector<job_id>> found;
  while (auto h = direct.reserve_with_timeout(std::chrono::seconds{0})) {
    found[h->body()].push_back(h->id());
    h->remove();
  }
  std::size_t seen = 0;
  unknown_found = 0;
  for (std::size_t i = 0; i < states_.size(); ++i) {
    const auto it = found.find(body(i));
    const std::size_t n = it == found.end() ? 0 : it->second.size();
    seen += n;
    switch (states_[i]) {
      case state::acknowledged:
        EXPECT_EQ(n, 1u) << body(i) << " was acknowledged as job " << ids_[i].value;
        if (n == 1) {
          EXPECT_EQ(it->second.front(), ids_[i]) << body(i);
        }
        break;
      case state::unknown:
        EXPECT_LE(n, 1u) << body(i) << " (outcome unknown) was put twice";
        unknown_found += n;
        break;
      case state::not_sent:
        EXPECT_EQ(n, 0u) << body(i) << " was never acknowledged nor written, yet is there";
        break;
    }
  }
  std::size_t total = 0;
  for (const auto& [b, ids] : found) total += ids.size();
  EXPECT_EQ(seen, total) << "jobs on the server that no put of the test made";
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
