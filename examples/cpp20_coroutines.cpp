// The async client with C++20 coroutines: put, reserve, delete with co_await.
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/use_awaitable.hpp>
#include <iostream>

#include "address.hpp"
#include "beanpole/async_client.hpp"

using asio::use_awaitable;

int main(int argc, char** argv) {
  asio::io_context io;
  beanpole::async_client client(io.get_executor(), example_endpoint(argc, argv));
  int status = 1;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        co_await client.async_connect(use_awaitable);
        co_await client.async_use("thumbnails", use_awaitable);
        co_await client.async_watch("thumbnails", use_awaitable);
        const auto id = co_await client.async_put("cat.jpg", {}, use_awaitable);
        auto job =
            co_await client.async_reserve_with_timeout(std::chrono::seconds{1}, use_awaitable);
        if (job && job->id == id) {
          std::cout << "reserved job " << job->id << ": " << job->body << "\n";
          co_await client.async_remove(job->id, use_awaitable);
          status = 0;
        }
        client.close();
      },
      [&](std::exception_ptr e) {
        if (e) std::cerr << "failed\n";
        client.close();
      });
  io.run();
  return status;
}
