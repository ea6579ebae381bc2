// The async client with std::future: the I/O runs on its own thread, the caller blocks on
// futures, e.g. from code that is not asynchronous itself.
#include <asio/io_context.hpp>
#include <asio/use_future.hpp>
#include <iostream>
#include <thread>

#include "address.hpp"
#include "beanpole/async_client.hpp"

int main(int argc, char** argv) try {
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  std::thread io_thread([&] { io.run(); });
  {
    beanpole::async_client client(io.get_executor(), example_endpoint(argc, argv));
    client.async_connect(asio::use_future).get();
    // Many puts in flight at once: they leave in few writes and complete in order.
    std::vector<std::future<beanpole::job_id>> puts;
    for (int i = 0; i < 100; ++i) {
      puts.push_back(client.async_put("job " + std::to_string(i), {}, asio::use_future));
    }
    for (auto& f : puts) {
      const auto id = f.get();
      client.async_remove(id, asio::use_future).get();
    }
    std::cout << "put and deleted " << puts.size() << " jobs\n";
  }
  work.reset();
  io_thread.join();
} catch (const std::exception& e) {
  std::cerr << "failed: " << e.what() << "\n";
  return 1;
}
