// Codec micro-benchmarks (Google Benchmark): the cost of the protocol itself, no I/O.
//   - decoding a RESERVED reply with a 100-byte and a 64 KiB body, fed in 1, 16 and 4096-byte
//     chunks (the 64 KiB decode should run at memcpy speed: bytes_per_second >= 1 GB/s);
//   - encoding a put with a 100-byte body;
//   - decoding a full `stats` reply into the typed struct.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <new>
#include <string>

#include "beanpole/proto/commands.hpp"
#include "beanpole/proto/reply_parser.hpp"
#include "beanpole/proto/stats.hpp"

namespace {

using beanpole::proto::parse_status;
using beanpole::proto::reply_parser;

// Counts allocations so a benchmark can report them per reply.
std::size_t allocations = 0;

std::string reserved_reply(std::size_t body_size) {
  std::string body(body_size, 'x');
  for (std::size_t i = 0; i < body_size; ++i) body[i] = static_cast<char>('a' + i % 26);
  return "RESERVED 1234567 " + std::to_string(body_size) + "\r\n" + body + "\r\n";
}

void decode_reserved(benchmark::State& state) {
  const auto body_size = static_cast<std::size_t>(state.range(0));
  const auto chunk = static_cast<std::size_t>(state.range(1));
  const std::string wire = reserved_reply(body_size);
  reply_parser parser;
  std::size_t allocs_before = allocations;
  for (auto _ : state) {
    std::string_view rest = wire;
    while (!rest.empty()) {
      const auto step = parser.parse(rest.substr(0, chunk));
      rest.remove_prefix(step.consumed);
      if (step.status == parse_status::ready) {
        benchmark::DoNotOptimize(parser.take());
      } else if (step.status == parse_status::error) {
        state.SkipWithError("parse error");
        return;
      }
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * wire.size()));
  state.counters["allocs/reply"] = benchmark::Counter(
      static_cast<double>(allocations - allocs_before) / static_cast<double>(state.iterations()));
}
BENCHMARK(decode_reserved)
    ->ArgNames({"body", "chunk"})
    ->Args({100, 1})
    ->Args({100, 16})
    ->Args({100, 4096})
    ->Args({64 * 1024, 1})
    ->Args({64 * 1024, 16})
    ->Args({64 * 1024, 4096});

void encode_put(benchmark::State& state) {
  const std::string body(100, 'a');
  std::string out;
  out.reserve(256);
  for (auto _ : state) {
    out.clear();
    beanpole::proto::put_command cmd;
    cmd.pri = 0;
    cmd.body = body;
    benchmark::DoNotOptimize(cmd.encode(out));
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(encode_put);

// A real `stats` body captured from beanstalkd 1.12 (tests/fixtures/stats-1.12.body).
const char* const stats_body =
    "---\ncurrent-jobs-urgent: 0\ncurrent-jobs-ready: 0\ncurrent-jobs-reserved: 0\n"
    "current-jobs-delayed: 0\ncurrent-jobs-buried: 0\ncmd-put: 0\ncmd-peek: 0\n"
    "cmd-peek-ready: 0\ncmd-peek-delayed: 0\ncmd-peek-buried: 0\ncmd-reserve: 0\n"
    "cmd-reserve-with-timeout: 0\ncmd-delete: 0\ncmd-release: 0\ncmd-use: 0\ncmd-watch: 0\n"
    "cmd-ignore: 0\ncmd-bury: 0\ncmd-kick: 0\ncmd-touch: 0\ncmd-stats: 1\ncmd-stats-job: 0\n"
    "cmd-stats-tube: 0\ncmd-list-tubes: 0\ncmd-list-tube-used: 0\ncmd-list-tubes-watched: 0\n"
    "cmd-pause-tube: 0\njob-timeouts: 0\ntotal-jobs: 0\nmax-job-size: 65535\ncurrent-tubes: 1\n"
    "current-connections: 1\ncurrent-producers: 0\ncurrent-workers: 0\ncurrent-waiting: 0\n"
    "total-connections: 1\npid: 3146\nversion: \"1.12\"\nrusage-utime: 0.001780\n"
    "rusage-stime: 0.000000\nuptime: 0\nbinlog-oldest-index: 0\nbinlog-current-index: 0\n"
    "binlog-records-migrated: 0\nbinlog-records-written: 0\nbinlog-max-size: 10485760\n"
    "draining: false\nid: 8f4ad0d7c7530c02\nhostname: vm\nos: #1 SMP PREEMPT_DYNAMIC @0\n"
    "platform: x86_64\n";

void decode_stats(benchmark::State& state) {
  const std::string body = stats_body;
  const std::string wire = "OK " + std::to_string(body.size()) + "\r\n" + body + "\r\n";
  reply_parser parser;
  for (auto _ : state) {
    parser.parse(wire);
    beanpole::proto::server_stats stats;
    benchmark::DoNotOptimize(beanpole::proto::parse_server_stats(parser.take().body, stats));
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
BENCHMARK(decode_stats);

}  // namespace

// Counting replacements of the global allocation functions.
void* operator new(std::size_t size) {
  ++allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

BENCHMARK_MAIN();
