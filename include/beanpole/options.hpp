// Option structs shared by the clients.
#pragma once

#include <chrono>

#include "beanpole/proto/reply_parser.hpp"
#include "beanpole/types.hpp"

namespace beanpole {

/// How a connection is made and how long a reply may take.
struct connection_options {
  /// Upper bound on establishing a connection, all resolved addresses together.
  /// Default 10 s; zero means no limit.
  std::chrono::milliseconds connect_timeout{std::chrono::seconds{10}};

  /// Upper bound on waiting for each reply, counted from when the request is written. A reserve's
  /// deliberate wait is added to it (`reserve-with-timeout 5` may take 5 s plus this), and a plain
  /// `reserve` has no reply timeout at all. When it fires the connection is closed, since the
  /// reply may still arrive and would answer the wrong command. Default 10 s; zero means no limit.
  std::chrono::milliseconds reply_timeout{std::chrono::seconds{10}};

  /// Bounds on what the server may send (largest body, default 64 MiB). See
  /// `proto::parser_limits`.
  proto::parser_limits limits{};
};

/// The optional parts of a `put`. Defaults: priority 1024, no delay, time to run 60 s.
struct put_options {
  /// Smaller is more urgent; 0 is the most urgent. Default 1024.
  priority pri = default_priority;
  /// Seconds before the job becomes ready. Default 0: ready at once. Must fit 32 bits unsigned.
  std::chrono::seconds delay{0};
  /// Seconds a worker may hold the job before the server releases it. Default 60 s; the server
  /// makes 0 into 1. Must fit 32 bits unsigned.
  std::chrono::seconds ttr{60};
};

}  // namespace beanpole
