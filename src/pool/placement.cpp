#include "pool/placement.hpp"

#include <cmath>
#include <limits>

namespace beanpole::pool_rules {

namespace {
unsigned effective(unsigned weight) {
  return weight == 0 ? 1 : weight;
}
}  // namespace

std::uint64_t stable_hash(std::string_view a, std::string_view b) noexcept {
  std::uint64_t h = 14695981039346656037ull;
  auto feed = [&h](unsigned char c) {
    h ^= c;
    h *= 1099511628211ull;
  };
  for (unsigned char c : a) feed(c);
  feed(0);  // "ab"+"c" and "a"+"bc" must differ
  for (unsigned char c : b) feed(c);
  // FNV alone spreads short, similar keys poorly over the high bits; splitmix64 finishes it.
  h += 0x9e3779b97f4a7c15ull;
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
  return h ^ (h >> 31);
}

placement::placement(placement_policy policy, std::vector<placement_server> servers,
                     std::size_t start)
    : policy_(policy), servers_(std::move(servers)), current_(servers_.size(), 0) {
  if (servers_.empty()) return;
  cursor_ = start % servers_.size();
  if (policy_ == placement_policy::weighted) {
    std::size_t total = 0;
    for (const auto& s : servers_) total += effective(s.weight);
    const std::vector<bool> all(servers_.size(), true);
    for (std::size_t i = 0; i < start % total; ++i) next_weighted(all);
  }
}

std::optional<std::size_t> placement::choose(std::string_view tube,
                                             const std::vector<bool>& usable) {
  switch (policy_) {
    case placement_policy::weighted:
      return next_weighted(usable);
    case placement_policy::by_tube:
      return by_tube(tube, usable);
    case placement_policy::round_robin:
      break;
  }
  return next_round_robin(usable);
}

std::optional<std::size_t> placement::next_round_robin(const std::vector<bool>& usable) {
  const std::size_t n = servers_.size();
  for (std::size_t step = 0; step < n; ++step) {
    const std::size_t i = (cursor_ + step) % n;
    if (i < usable.size() && usable[i]) {
      cursor_ = (i + 1) % n;
      return i;
    }
  }
  return std::nullopt;
}

std::optional<std::size_t> placement::next_weighted(const std::vector<bool>& usable) {
  // Smooth weighted round-robin: every usable server gains its weight, the richest is chosen and
  // pays the total. Over sum(weights) picks each gets exactly its weight, interleaved.
  std::int64_t total = 0;
  std::optional<std::size_t> best;
  for (std::size_t i = 0; i < servers_.size(); ++i) {
    if (i >= usable.size() || !usable[i]) continue;
    const auto w = static_cast<std::int64_t>(effective(servers_[i].weight));
    current_[i] += w;
    total += w;
    if (!best || current_[i] > current_[*best]) best = i;
  }
  if (best) current_[*best] -= total;
  return best;
}

double placement::score(std::size_t index, std::string_view tube) const {
  const std::uint64_t h = stable_hash(servers_[index].name, tube);
  // The top 53 bits as a double in (0, 1): never 0, so the log is finite and negative.
  const double u = (static_cast<double>(h >> 11) + 0.5) / 9007199254740992.0;
  return -static_cast<double>(effective(servers_[index].weight)) / std::log(u);
}

std::optional<std::size_t> placement::by_tube(std::string_view tube,
                                              const std::vector<bool>& usable) const {
  std::optional<std::size_t> best;
  double best_score = -std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i < servers_.size(); ++i) {
    if (i >= usable.size() || !usable[i]) continue;
    const double s = score(i, tube);
    if (!best || s > best_score) {
      best = i;
      best_score = s;
    }
  }
  return best;
}

}  // namespace beanpole::pool_rules
