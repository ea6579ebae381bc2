// beanpole-bench: the load driver behind bench/run.sh, using only beanpole's public API.
//
// usage: beanpole-bench -p PORT [-P PORT,...] -m MODE [-n N] [-H HOST] [-s BODY_SIZE] [-c TASKS]
//                       [-t TUBE] [-T CA_FILE]
//   -T    connect over TLS (a terminator at HOST:PORT), verifying its certificate with CA_FILE
//   MODE  pipe-put   N puts, the async client pipelined (callbacks, window = default in-flight cap)
//         pipe-rd    N x (reserve-with-timeout 0 + delete), pipelined the same way
//         sync-put   N puts, the blocking client, one at a time
//         sync-rd    N x (reserve-with-timeout 0 + delete), the blocking client
//         coro-put   N puts from TASKS (default 100) coroutines on one async client
//         coro-rd    N reserve+delete pairs from TASKS coroutines
//         pool-put   N puts through an async_pool of the servers at -p PORT and -P PORT,PORT...
//                    (round-robin), pipelined like pipe-put; client=beanpole-pool<servers>
//         pool-rd    N x (reserve-with-timeout 0 across the servers + delete), pipelined
//         reserve-latency  N puts one at a time, first alone, then while a reserve waits on the
//                    same client: prints "LATENCY idle p50_us=.. p99_us=.." and "... waiting ..."
//         large      N x (put + reserve + delete) of BODY_SIZE bytes from TASKS coroutines, so the
//                    server never holds more than TASKS jobs; prints "THROUGHPUT mb_per_s=.."
// Prints the harness's line: RESULT client=beanpole-{pipe,sync,coro} mode={put,rd} ops=N secs=S
// cpu=S where secs is the wall time of the timed loop (after connect) and cpu the process's
// user+sys CPU over the same loop. The coroutine modes also print "LATENCY p50_us=.. p99_us=.."
// (per command) and "RSS max_kb=..".
#include <sys/resource.h>

#include <unistd.h>
#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "beanpole/async_client.hpp"
#include "beanpole/client.hpp"
#include "beanpole/pool.hpp"

namespace {

using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct settings {
  std::string host = "127.0.0.1";
  std::uint16_t port = 11300;
  std::string mode;
  long n = 10000;
  std::size_t body_size = 100;
  int tasks = 100;
  std::string tube;
  std::string tls_ca;  // -T: connect over TLS (tls://host:port), trusting this CA bundle
  std::vector<std::uint16_t> extra_ports;  ///< -P: more servers, for the pool modes
};

/// Where the clients connect: plain TCP, or TLS through a terminator when -T names a CA.
beanpole::endpoint target(const settings& s) {
  if (s.tls_ca.empty()) return beanpole::endpoint::tcp(s.host, s.port);
  beanpole::tls_options tls;
  tls.ca_file = s.tls_ca;
  return beanpole::endpoint::tcp_tls(s.host, s.port, tls);
}

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

/// Times the loop and prints the harness's RESULT line.
class result_timer {
 public:
  result_timer() : wall0_(clock_type::now()), cpu0_(cpu_seconds()) {}
  void report(const std::string& client, const std::string& mode, long ops) const {
    const double secs = std::chrono::duration<double>(clock_type::now() - wall0_).count();
    std::printf("RESULT client=%s mode=%s ops=%ld secs=%.4f cpu=%.4f\n", client.c_str(),
                mode.c_str(), ops, secs, cpu_seconds() - cpu0_);
  }

 private:
  clock_type::time_point wall0_;
  double cpu0_;
};

long max_rss_kb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

/// Prints "LATENCY [label] p50_us=.. p99_us=.." of `samples` (sorted in place).
void print_latency(std::vector<std::uint32_t>& samples, const char* label) {
  if (samples.empty()) return;
  std::sort(samples.begin(), samples.end());
  std::printf("LATENCY %sp50_us=%u p99_us=%u\n", label, samples[samples.size() / 2],
              samples[samples.size() * 99 / 100]);
}

std::uint32_t micros_since(clock_type::time_point t0) {
  return static_cast<std::uint32_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(clock_type::now() - t0).count());
}

std::string make_body(std::size_t size) {
  std::string body(size, 'a');
  for (std::size_t i = 0; i < size; ++i) body[i] = static_cast<char>('a' + i % 26);
  return body;
}

beanpole::put_options put_opts() {
  beanpole::put_options o;
  o.pri = 0;
  o.ttr = 60s;
  return o;
}

[[noreturn]] void die(const std::string& what, std::error_code ec) {
  std::fprintf(stderr, "beanpole-bench: %s: %s\n", what.c_str(), ec.message().c_str());
  std::exit(1);
}

// ------------------------------------------------------------------------------ blocking

int run_sync(const settings& s, bool put) {
  beanpole::client c(target(s));
  if (!s.tube.empty()) {
    c.use(s.tube);
    c.watch(s.tube);
    c.ignore("default");
  }
  const std::string body = make_body(s.body_size);
  const auto opts = put_opts();
  long ok = 0;
  result_timer timer;
  std::error_code ec;
  for (long i = 0; i < s.n; ++i) {
    if (put) {
      c.put(body, opts, ec);
      if (ec) die("put", ec);
    } else {
      auto job = c.reserve_with_timeout(0s, ec);
      if (ec) die("reserve", ec);
      if (!job) die("reserve", make_error_code(beanpole::errc::timed_out));
      job->remove(ec);
      if (ec) die("delete", ec);
    }
    ++ok;
  }
  timer.report("beanpole-sync", put ? "put" : "rd", ok);
  return ok == s.n ? 0 : 1;
}

// -------------------------------------------------------------------- async, pipelined

/// Keeps `window` operations in flight with callbacks, on the I/O thread: each completion starts
/// the next. This is how a callback application pipelines without unbounded memory.
class pipe_driver {
 public:
  pipe_driver(const settings& s, bool put)
      : s_(s), put_(put), client_(io_.get_executor(), target(s)), body_(make_body(s.body_size)) {}

  int run() {
    client_.async_connect([this](std::error_code ec) {
      if (ec) die("connect", ec);
      if (s_.tube.empty()) return begin();
      client_.async_use(s_.tube, [this](std::error_code) {
        client_.async_watch(s_.tube, [this](std::error_code, std::size_t) {
          client_.async_ignore("default", [this](std::error_code, std::size_t) { begin(); });
        });
      });
    });
    io_.run();
    if (failure_) die("pipelined run", failure_);
    timer_->report("beanpole-pipe", put_ ? "put" : "rd", done_);
    return done_ == s_.n ? 0 : 1;
  }

 private:
  void begin() {
    timer_.emplace();
    const long window = static_cast<long>(beanpole::async_client_options{}.max_in_flight);
    for (long i = 0; i < window; ++i) start_one();
  }

  void start_one() {
    if (started_ >= s_.n || failure_) return;
    ++started_;
    if (put_) {
      client_.async_put(body_, opts_, [this](std::error_code ec, beanpole::job_id) { finish(ec); });
      return;
    }
    client_.async_reserve_with_timeout(
        std::chrono::seconds{0}, [this](std::error_code ec, std::optional<beanpole::job> job) {
          if (!ec && !job) ec = make_error_code(beanpole::errc::timed_out);
          if (ec) return finish(ec);
          client_.async_remove(job->id, [this](std::error_code dec) { finish(dec); });
        });
  }

  void finish(std::error_code ec) {
    if (ec) failure_ = ec;
    if (++done_ == s_.n || failure_) return client_.close();
    start_one();
  }

  const settings& s_;
  const bool put_;
  asio::io_context io_{1};
  beanpole::async_client client_;
  const std::string body_;
  const beanpole::put_options opts_ = put_opts();
  long started_ = 0;
  long done_ = 0;
  std::error_code failure_;
  std::optional<result_timer> timer_;
};

int run_pipe(const settings& s, bool put) {
  return pipe_driver(s, put).run();
}

// ------------------------------------------------------------------------- coroutines

/// `tasks` coroutines on one client, each awaiting its own commands, as an application would.
int run_coro(const settings& s, bool put) {
  asio::io_context io(1);
  beanpole::async_client c(io.get_executor(), target(s));
  const std::string body = make_body(s.body_size);
  const auto opts = put_opts();
  long next = 0;
  long done = 0;
  int running = s.tasks;
  std::vector<std::uint32_t> latencies_us;
  latencies_us.reserve(static_cast<std::size_t>(s.n));
  std::optional<result_timer> timer;

  auto task = [&]() -> asio::awaitable<void> {
    while (next < s.n) {
      ++next;
      const auto t0 = clock_type::now();
      if (put) {
        co_await c.async_put(body, opts, asio::use_awaitable);
      } else {
        auto job = co_await c.async_reserve_with_timeout(0s, asio::use_awaitable);
        if (!job) throw beanpole::error(make_error_code(beanpole::errc::timed_out));
        co_await c.async_remove(job->id, asio::use_awaitable);
      }
      latencies_us.push_back(micros_since(t0));
      ++done;
    }
    if (--running == 0) c.close();
  };

  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await c.async_connect(asio::use_awaitable);
        if (!s.tube.empty()) {
          co_await c.async_use(s.tube, asio::use_awaitable);
          co_await c.async_watch(s.tube, asio::use_awaitable);
          co_await c.async_ignore("default", asio::use_awaitable);
        }
        timer.emplace();
        for (int i = 0; i < s.tasks; ++i) {
          asio::co_spawn(io, task(), [](std::exception_ptr e) {
            if (e) std::rethrow_exception(e);
          });
        }
      },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  try {
    io.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "beanpole-bench: %s\n", e.what());
    return 1;
  }
  timer->report("beanpole-coro", put ? "put" : "rd", done);
  print_latency(latencies_us, "");
  std::printf("RSS max_kb=%ld\n", max_rss_kb());
  return done == s.n ? 0 : 1;
}

/// Runs `body` as a coroutine on a fresh io_context with a connected client; returns 1 on error.
int with_client(const settings& s,
                std::function<asio::awaitable<void>(beanpole::async_client&)> body) {
  asio::io_context io(1);
  beanpole::async_client c(io.get_executor(), target(s));
  int status = 0;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await c.async_connect(asio::use_awaitable);
        co_await body(c);
        c.close();
      },
      [&](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          std::fprintf(stderr, "beanpole-bench: %s\n", ex.what());
        }
        status = 1;
        c.close();
      });
  io.run();
  return status;
}

/// Put latency with no reserve, then with a reserve waiting on the same client (it runs on a
/// reserve connection of its own, so the puts should not notice it).
int run_reserve_latency(const settings& s) {
  return with_client(s, [&](beanpole::async_client& c) -> asio::awaitable<void> {
    const std::string body = make_body(s.body_size);
    const std::string tube = s.tube.empty() ? "bench-latency" : s.tube;
    co_await c.async_use(tube, asio::use_awaitable);
    auto measure = [&]() -> asio::awaitable<std::vector<std::uint32_t>> {
      std::vector<std::uint32_t> samples;
      for (long i = 0; i < s.n; ++i) {
        const auto t0 = clock_type::now();
        const auto id = co_await c.async_put(body, put_opts(), asio::use_awaitable);
        samples.push_back(micros_since(t0));
        co_await c.async_remove(id, asio::use_awaitable);
      }
      co_return samples;
    };
    auto idle = co_await measure();
    // A reserve that waits for the whole measurement: it watches a tube nobody puts into.
    co_await c.async_watch("bench-nothing-comes", asio::use_awaitable);
    co_await c.async_ignore("default", asio::use_awaitable);
    // The handler runs once more when the client closes (operation_aborted), after this
    // coroutine has ended: it must own what it writes, not refer to this frame's locals.
    auto reserve_done = std::make_shared<bool>(false);
    c.async_reserve_with_timeout(
        std::chrono::seconds{3600},
        [reserve_done](std::error_code, std::optional<beanpole::job>) { *reserve_done = true; });
    auto waiting = co_await measure();
    if (*reserve_done) throw std::runtime_error("the reserve did not wait");
    print_latency(idle, "idle ");
    print_latency(waiting, "waiting ");
  });
}

/// Large bodies: each task puts a job, reserves one and deletes it, so the server holds at most
/// TASKS jobs while N bodies travel each way.
int run_large(const settings& s) {
  long done = 0;
  std::optional<result_timer> timer;
  const auto t0 = clock_type::now();
  const int status = with_client(s, [&](beanpole::async_client& c) -> asio::awaitable<void> {
    const std::string body = make_body(s.body_size);
    const std::string tube = s.tube.empty() ? "bench-large" : s.tube;
    co_await c.async_use(tube, asio::use_awaitable);
    co_await c.async_watch(tube, asio::use_awaitable);
    co_await c.async_ignore("default", asio::use_awaitable);
    timer.emplace();
    long next = 0;
    int running = s.tasks;
    auto ex = co_await asio::this_coro::executor;
    auto finished = std::make_shared<asio::steady_timer>(ex, clock_type::time_point::max());
    for (int t = 0; t < s.tasks; ++t) {
      asio::co_spawn(
          ex,
          [&, finished]() -> asio::awaitable<void> {
            while (next < s.n) {
              ++next;
              co_await c.async_put(body, put_opts(), asio::use_awaitable);
              auto job = co_await c.async_reserve_with_timeout(std::chrono::seconds{5},
                                                               asio::use_awaitable);
              if (!job || job->body.size() != body.size()) throw std::runtime_error("bad job");
              co_await c.async_remove(job->id, asio::use_awaitable);
              ++done;
            }
            if (--running == 0) finished->cancel();
          },
          asio::detached);
    }
    std::error_code ignored;
    co_await finished->async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  });
  if (timer) timer->report("beanpole-large", "put+rd", done);
  const double secs = std::chrono::duration<double>(clock_type::now() - t0).count();
  std::printf("THROUGHPUT mb_per_s=%.1f\n",
              2.0 * static_cast<double>(done) * static_cast<double>(s.body_size) / secs / 1e6);
  std::printf("RSS max_kb=%ld\n", max_rss_kb());
  return status == 0 && done == s.n ? 0 : 1;
}

// ------------------------------------------------------------------- pool, pipelined

/// pipe_driver's loop through an `async_pool` of the servers at `-p PORT` and `-P PORT,...`:
/// puts placed round-robin, reserves swept across the servers (reserve-with-timeout 0 each).
class pool_driver {
 public:
  pool_driver(const settings& s, bool put)
      : s_(s), put_(put), pool_(io_.get_executor(), servers(s)), body_(make_body(s.body_size)) {}

  int run() {
    pool_.async_connect([this](std::error_code ec) {
      if (ec) die("connect", ec);
      if (s_.tube.empty() || put_) return begin();
      pool_.async_watch(s_.tube, [this](std::error_code) {
        pool_.async_ignore("default", [this](std::error_code) { begin(); });
      });
    });
    io_.run();
    if (failure_) die("pool run", failure_);
    timer_->report("beanpole-pool" + std::to_string(s_.extra_ports.size() + 1), put_ ? "put" : "rd",
                   done_);
    return done_ == s_.n ? 0 : 1;
  }

 private:
  static std::vector<beanpole::pool_server> servers(const settings& s) {
    std::vector<beanpole::pool_server> out;
    out.push_back({beanpole::endpoint::tcp(s.host, s.port), {}, 1});
    for (auto p : s.extra_ports) out.push_back({beanpole::endpoint::tcp(s.host, p), {}, 1});
    return out;
  }

  void begin() {
    timer_.emplace();
    const long window = static_cast<long>(beanpole::async_client_options{}.max_in_flight);
    for (long i = 0; i < window; ++i) start_one();
  }

  void start_one() {
    if (started_ >= s_.n || failure_) return;
    ++started_;
    if (put_) {
      pool_.async_put(tube_, body_, opts_,
                      [this](std::error_code ec, const beanpole::pool_job_id&) { finish(ec); });
      return;
    }
    pool_.async_reserve_with_timeout(
        std::chrono::seconds{0}, [this](std::error_code ec, std::optional<beanpole::pool_job> job) {
          if (!ec && !job) ec = make_error_code(beanpole::errc::timed_out);
          if (ec) return finish(ec);
          pool_.async_remove(job->id, [this](std::error_code dec) { finish(dec); });
        });
  }

  void finish(std::error_code ec) {
    if (ec) failure_ = ec;
    if (++done_ == s_.n || failure_) return pool_.close();
    start_one();
  }

  const settings& s_;
  const bool put_;
  asio::io_context io_{1};
  beanpole::async_pool pool_;
  const std::string body_;
  const beanpole::tube_name tube_{s_.tube.empty() ? std::string("default") : s_.tube};
  const beanpole::put_options opts_ = put_opts();
  long started_ = 0;
  long done_ = 0;
  std::error_code failure_;
  std::optional<result_timer> timer_;
};

int run_pool(const settings& s, bool put) {
  return pool_driver(s, put).run();
}

}  // namespace

int main(int argc, char** argv) {
  settings s;
  for (int opt; (opt = getopt(argc, argv, "p:P:m:n:H:s:c:t:T:")) != -1;) {
    switch (opt) {
      case 'p':
        s.port = static_cast<std::uint16_t>(std::atoi(optarg));
        break;
      case 'P':
        for (const char* p = optarg; *p != '\0';) {
          s.extra_ports.push_back(static_cast<std::uint16_t>(std::atoi(p)));
          const char* comma = std::strchr(p, ',');
          p = comma != nullptr ? comma + 1 : p + std::strlen(p);
        }
        break;
      case 'm':
        s.mode = optarg;
        break;
      case 'n':
        s.n = std::atol(optarg);
        break;
      case 'H':
        s.host = optarg;
        break;
      case 's':
        s.body_size = static_cast<std::size_t>(std::atol(optarg));
        break;
      case 'c':
        s.tasks = std::atoi(optarg);
        break;
      case 't':
        s.tube = optarg;
        break;
      case 'T':
        s.tls_ca = optarg;
        break;
      default:
        std::fprintf(
            stderr,
            "usage: %s -p PORT -m MODE [-n N] [-H HOST] [-s SIZE] [-c TASKS] [-T CA_FILE]\n",
            argv[0]);
        return 2;
    }
  }
  try {
    if (s.mode == "sync-put") return run_sync(s, true);
    if (s.mode == "sync-rd") return run_sync(s, false);
    if (s.mode == "pipe-put") return run_pipe(s, true);
    if (s.mode == "pipe-rd") return run_pipe(s, false);
    if (s.mode == "coro-put") return run_coro(s, true);
    if (s.mode == "coro-rd") return run_coro(s, false);
    if (s.mode == "pool-put") return run_pool(s, true);
    if (s.mode == "pool-rd") return run_pool(s, false);
    if (s.mode == "reserve-latency") return run_reserve_latency(s);
    if (s.mode == "large") return run_large(s);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "beanpole-bench: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "beanpole-bench: unknown mode '%s'\n", s.mode.c_str());
  return 2;
}
