// The async client with plain callbacks: put, reserve, delete.
#include <asio/io_context.hpp>
#include <iostream>

#include "address.hpp"
#include "beanpole/async_client.hpp"

int main(int argc, char** argv) {
  asio::io_context io;
  beanpole::async_client client(io.get_executor(), example_endpoint(argc, argv));
  int status = 1;
  client.async_connect([&](std::error_code ec) {
    if (ec) return void(std::cerr << "connect: " << ec.message() << "\n");
    client.async_put("hello from a callback", {}, [&](std::error_code put_ec, beanpole::job_id id) {
      if (put_ec) return void(std::cerr << "put: " << put_ec.message() << "\n");
      std::cout << "put job " << id << "\n";
      client.async_reserve_job(id, [&](std::error_code res_ec, std::optional<beanpole::job> job) {
        if (res_ec || !job) return void(std::cerr << "reserve-job: " << res_ec.message() << "\n");
        std::cout << "reserved job " << job->id << ": " << job->body << "\n";
        client.async_remove(job->id, [&](std::error_code del_ec) {
          std::cout << (del_ec ? "delete failed: " + del_ec.message() : std::string("deleted"))
                    << "\n";
          status = del_ec ? 1 : 0;
          client.close();
        });
      });
    });
  });
  io.run();
  return status;
}
