// The async driver's queue of operations: a conn::fifo linked through `op_base::next`.
#pragma once

#include "client/async_op.hpp"
#include "conn/fifo.hpp"

namespace beanpole::detail {

using op_queue = conn::fifo<op_base>;

}  // namespace beanpole::detail
