// How long a command's reply may take, for both clients: one rule for the blocking socket's
// timeouts and the async connection's reply deadlines.
#pragma once

#include <chrono>

#include "beanpole/options.hpp"
#include "beanpole/proto/commands.hpp"

namespace beanpole::detail {

/// The time a command's reply may take: the reply timeout plus the server's deliberate wait;
/// zero (no limit) when either is unbounded.
inline std::chrono::milliseconds reply_budget(const connection_options& opts,
                                              proto::server_wait wait) {
  if (wait.unbounded || opts.reply_timeout.count() == 0) return std::chrono::milliseconds{0};
  return opts.reply_timeout + wait.bounded;
}

}  // namespace beanpole::detail
