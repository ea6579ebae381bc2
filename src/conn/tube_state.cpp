#include "conn/tube_state.hpp"

#include <algorithm>

namespace beanpole::conn {
namespace {

proto::reply watching(std::size_t count) {
  proto::reply r;
  r.kind = proto::reply_kind::watching;
  r.has_number = true;
  r.number = count;
  return r;
}

bool contains(const std::vector<tube_name>& tubes, const tube_name& tube) {
  return std::find(tubes.begin(), tubes.end(), tube) != tubes.end();
}

}  // namespace

std::optional<proto::reply> tube_state::use(const tube_name& tube) {
  if (switch_use(tube)) return std::nullopt;
  proto::reply r;
  r.kind = proto::reply_kind::using_tube;
  r.body = tube.str();
  return r;
}

std::optional<proto::reply> tube_state::watch(const tube_name& tube) {
  if (contains(watched_, tube)) return watching(watched_.size());
  watched_.push_back(tube);
  ++version_;
  return std::nullopt;
}

std::optional<proto::reply> tube_state::ignore(const tube_name& tube) {
  const auto it = std::find(watched_.begin(), watched_.end(), tube);
  if (it == watched_.end()) return watching(watched_.size());
  if (watched_.size() == 1) {
    proto::reply r;
    r.kind = proto::reply_kind::not_ignored;
    return r;
  }
  watched_.erase(it);
  ++version_;
  return std::nullopt;
}

void tube_state::sync(applied_tubes& conn, const tube_name* use,
                      std::vector<tube_command>& out) const {
  if (conn.version == version_ && (use == nullptr || conn.used == *use)) return;
  if (use != nullptr && conn.used != *use) out.emplace_back(proto::use_command{*use});
  for (const auto& t : watched_) {
    if (!contains(conn.watched, t)) out.emplace_back(proto::watch_command{t});
  }
  for (const auto& t : conn.watched) {
    if (!contains(watched_, t)) out.emplace_back(proto::ignore_command{t});
  }
  if (use != nullptr) conn.used = *use;
  conn.watched = watched_;
  conn.version = version_;
}

}  // namespace beanpole::conn
