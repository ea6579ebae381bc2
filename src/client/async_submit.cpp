// The public entry points of the async client's operations: each builds the library's node for
// its command around the user's type-erased completion. One definition per command the client
// issues, instantiated here, so the node's layout never reaches a public header.
#include "beanpole/async_client.hpp"
#include "client/async_op.hpp"

namespace beanpole::detail {

template <class Command>
void submit(async_core& core, Command&& cmd, completion<signature_t<Command>>* done, op_route route,
            job_id job, bool is_put) {
  auto* node = op<Command>::make(std::move(cmd), done);
  node->route = route;
  node->job = job;
  node->is_put = is_put;
  submit_op(core, node);
}

template <class Command>
void submit_in_tube(async_core& core, Command&& cmd, completion<signature_t<Command>>* done,
                    bool is_put, const tube_name& tube) {
  auto* node = op<Command>::make(std::move(cmd), done);
  node->is_put = is_put;
  node->effect = tube_effect::use_first;
  node->tube = &tube;
  submit_op(core, node);
}

void connect(async_core& core, completion<void(std::error_code)>* done) {
  connect_op(core, op<connect_request>::make(connect_request{}, done));
}

#define BEANPOLE_SUBMIT(Command)                                                           \
  template void submit<Command>(async_core&, Command&&, completion<signature_t<Command>>*, \
                                op_route, job_id, bool);

BEANPOLE_SUBMIT(owned_put_command)
BEANPOLE_SUBMIT(proto::use_command)
BEANPOLE_SUBMIT(proto::watch_command)
BEANPOLE_SUBMIT(proto::ignore_command)
BEANPOLE_SUBMIT(proto::reserve_command)
BEANPOLE_SUBMIT(proto::reserve_with_timeout_command)
BEANPOLE_SUBMIT(proto::reserve_job_command)
BEANPOLE_SUBMIT(proto::delete_command)
BEANPOLE_SUBMIT(proto::release_command)
BEANPOLE_SUBMIT(proto::bury_command)
BEANPOLE_SUBMIT(proto::touch_command)
BEANPOLE_SUBMIT(proto::peek_command)
BEANPOLE_SUBMIT(proto::peek_state_command)
BEANPOLE_SUBMIT(proto::kick_command)
BEANPOLE_SUBMIT(proto::kick_job_command)
BEANPOLE_SUBMIT(proto::stats_job_command)
BEANPOLE_SUBMIT(proto::stats_tube_command)
BEANPOLE_SUBMIT(proto::stats_command)
BEANPOLE_SUBMIT(proto::list_tubes_command)
BEANPOLE_SUBMIT(proto::list_tube_used_command)
BEANPOLE_SUBMIT(proto::list_tubes_watched_command)
BEANPOLE_SUBMIT(proto::pause_tube_command)

#undef BEANPOLE_SUBMIT

#define BEANPOLE_SUBMIT_IN_TUBE(Command)                                                           \
  template void submit_in_tube<Command>(async_core&, Command&&, completion<signature_t<Command>>*, \
                                        bool, const tube_name&);

BEANPOLE_SUBMIT_IN_TUBE(owned_put_command)
BEANPOLE_SUBMIT_IN_TUBE(proto::kick_command)
BEANPOLE_SUBMIT_IN_TUBE(proto::peek_state_command)

#undef BEANPOLE_SUBMIT_IN_TUBE

}  // namespace beanpole::detail
