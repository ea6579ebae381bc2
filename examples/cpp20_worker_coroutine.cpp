// A worker in a dozen lines: a coroutine handler per job, four at once, retries and time to run
// taken care of; stops when idle (or on Ctrl-C) and prints its counters.
#include <asio/io_context.hpp>
#include <iostream>

#include "address.hpp"
#include "beanpole/client.hpp"
#include "beanpole/worker.hpp"

int main(int argc, char** argv) {
  const beanpole::endpoint server = example_endpoint(argc, argv);
  beanpole::client producer(server);  // some work to do
  producer.use("thumbnails");
  for (const char* image : {"cat.jpg", "dog.png", "owl.gif"}) producer.put(image);

  asio::io_context io;
  beanpole::worker_options options;
  options.concurrency = 4;
  options.handle_signals = true;                     // Ctrl-C: finish what runs, then exit
  options.stop_when_idle = std::chrono::seconds{1};  // an example ends by itself
  beanpole::worker worker(io.get_executor(), server, options);
  worker.handle("thumbnails", [](beanpole::job_context& job) -> asio::awaitable<void> {
    std::cout << "thumbnail of " << job.body() << " (job " << job.id() << ")\n";
    co_return;  // returning deletes the job; throwing retries it later
  });
  std::error_code result;
  worker.async_run([&](std::error_code ec) { result = ec; });
  io.run();

  std::cerr << beanpole::format_metrics(worker.metrics());
  if (result) std::cerr << "worker: " << result.message() << "\n";
  return result ? 1 : 0;
}
