// The main demo: a producer puts jobs into a tube while a worker reserves and deletes them, both
// as C++20 coroutines on one async client. The worker's waiting reserve runs on a connection of
// its own, so the producer's puts are never held up behind it.
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <iostream>

#include "address.hpp"
#include "beanpole/async_client.hpp"

using namespace std::chrono_literals;
using asio::awaitable;
using asio::use_awaitable;

constexpr int job_count = 5;

awaitable<void> producer(beanpole::async_client& client) {
  co_await client.async_use("demo", use_awaitable);
  asio::steady_timer pause(co_await asio::this_coro::executor);
  for (int i = 1; i <= job_count; ++i) {
    const std::string body = "resize image-" + std::to_string(i) + ".jpg";
    const beanpole::job_id id = co_await client.async_put(body, {}, use_awaitable);
    std::cout << "producer: put job " << id << " \"" << body << "\"\n";
    pause.expires_after(100ms);
    co_await pause.async_wait(use_awaitable);
  }
}

awaitable<void> worker(beanpole::async_client& client) {
  co_await client.async_watch("demo", use_awaitable);
  co_await client.async_ignore("default", use_awaitable);
  for (int done = 0; done < job_count;) {
    auto job = co_await client.async_reserve_with_timeout(5s, use_awaitable);
    if (!job) {
      std::cout << "worker:   no job within 5 s, giving up\n";
      co_return;
    }
    std::cout << "worker:   reserved job " << job->id << " \"" << job->body << "\"\n";
    co_await client.async_remove(job->id, use_awaitable);
    std::cout << "worker:   deleted job " << job->id << " (" << ++done << "/" << job_count
              << " done)\n";
  }
}

int main(int argc, char** argv) {
  asio::io_context io;
  beanpole::async_client client(io.get_executor(), example_endpoint(argc, argv));
  int exit_code = 0;
  asio::co_spawn(
      io,
      [&]() -> awaitable<void> {
        co_await client.async_connect(use_awaitable);
        std::cout << "connected\n";
        // Run both; the whole demo ends when the worker has finished every job.
        asio::co_spawn(io, producer(client), asio::detached);
        co_await worker(client);
        auto stats = co_await client.async_stats_tube("demo", use_awaitable);
        std::cout << "tube demo: " << stats.current_jobs_ready << " ready, "
                  << stats.current_jobs_reserved << " reserved, " << stats.total_jobs
                  << " put in total\n";
        client.close();
      },
      [&](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          std::cerr << "demo failed: " << ex.what() << "\n";
          exit_code = 1;
        }
        client.close();
      });
  io.run();
  return exit_code;
}
