// A loopback TCP proxy that breaks connections on purpose, for tests of what a client does when
// a reply never comes, a connection drops mid-command, the network stalls or splits traffic.
//
// It listens on 127.0.0.1 on a port the kernel chose and forwards every accepted connection to
// `upstream_port` on 127.0.0.1. Two kinds of faults, which may be combined:
//
// - Targeted: once armed with `cut_on(prefix)`, the first client write that starts with `prefix`
//   (e.g. "put ") is forwarded to the server and then both sides of that connection are closed
//   before the server's reply is passed on: the command took effect, the client never hears so.
// - Random, on a seeded schedule (`fault_schedule`): in each direction of each connection, after
//   a random number of bytes, the connection is reset (RST: SO_LINGER 0 on both sides), which
//   lands anywhere, inside a command or inside a reply; a direction stalls for a random while;
//   a chunk of traffic goes out in segments of 1 to 7 bytes. The schedule of the n-th connection
//   depends only on the seed and n, so a failure is replayed by running again with its seed
//   (timing still varies: the faults fall at the same byte offsets, not at the same instants).
//
// The proxy thread stops in the destructor.
//
// Thread safety: `cut_on`, the counters and `endpoint` may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "beanpole/endpoint.hpp"

namespace beanpole::testing {

/// Random faults of a `fault_proxy`. Each field's zero turns its fault off; the default is no
/// random fault at all.
struct fault_schedule {
  /// Seeds every connection's schedule (with the connection's number).
  std::uint64_t seed = 0;
  /// Mean number of bytes, per direction of a connection, between two resets. 0: never.
  std::size_t cut_every = 0;
  /// Mean number of bytes, per direction, between two stalls. 0: never.
  std::size_t stall_every = 0;
  /// Longest stall; each lasts 1 ms to this, uniformly.
  std::chrono::milliseconds max_stall{0};
  /// Share (0 to 1) of the chunks read from a socket that are passed on in 1 to 7 byte segments.
  double split = 0;

  /// Whether any random fault is on.
  bool active() const noexcept { return cut_every > 0 || stall_every > 0 || split > 0; }

  /// The seed for a test run: $BEANPOLE_FAULT_SEED when set (to replay a failure), else a fresh
  /// random one. Prints it on stderr with `test`'s name and how to replay, so that every run
  /// that uses the proxy says which seed it had.
  static std::uint64_t seed_for(std::string_view test);
};

class fault_proxy {
 public:
  explicit fault_proxy(std::uint16_t upstream_port, fault_schedule schedule = {});
  ~fault_proxy();
  fault_proxy(const fault_proxy&) = delete;
  fault_proxy& operator=(const fault_proxy&) = delete;

  /// Where clients connect: 127.0.0.1 and the proxy's port.
  beanpole::endpoint endpoint() const;
  /// Arms the fault: the next client write starting with `prefix` reaches the server, then the
  /// connection is cut. Once only; call again to re-arm.
  void cut_on(std::string prefix);
  /// Turns the random faults of the schedule off (false) or back on (true) for the connections
  /// accepted from now on; on at start.
  void set_random_faults(bool on) { random_faults_.store(on); }

  /// How many connections were cut so far (targeted and random).
  int cuts() const { return cuts_.load(); }
  /// How many stalls the schedule caused so far.
  int stalls() const { return stalls_.load(); }
  /// How many chunks were split in small segments so far.
  int splits() const { return splits_.load(); }
  /// How many connections were accepted so far.
  int connections() const { return connections_.load(); }

 private:
  void run();

  int listen_fd_ = -1;
  int wake_fds_[2] = {-1, -1};
  std::uint16_t port_ = 0;
  std::uint16_t upstream_port_ = 0;
  fault_schedule schedule_;
  std::mutex mutex_;
  std::string prefix_;
  bool armed_ = false;
  std::atomic<bool> random_faults_{true};
  std::atomic<int> cuts_{0};
  std::atomic<int> stalls_{0};
  std::atomic<int> splits_{0};
  std::atomic<int> connections_{0};
  std::thread thread_;
};

}  // namespace beanpole::testing
