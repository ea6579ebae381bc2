// The command groups. Each function adds its subcommands to the app; a subcommand's callback
// stores its body in `ctx.run`, which main calls once parsing succeeded.
#pragma once

#include <CLI/CLI.hpp>

#include "context.hpp"

namespace beanpole::cli {

/// Help groups, in the order they should appear.
inline constexpr const char* group_produce = "Producing";
inline constexpr const char* group_consume = "Consuming";
inline constexpr const char* group_jobs = "Jobs and tubes";
inline constexpr const char* group_inspect = "Inspecting";
inline constexpr const char* group_bulk = "Watching and moving";
inline constexpr const char* group_serve = "Serving over HTTP";

void add_put_command(CLI::App& app, context& ctx);      // put
void add_reserve_command(CLI::App& app, context& ctx);  // reserve; release, bury, touch notes
void add_work_command(CLI::App& app, context& ctx);     // work
void add_job_commands(CLI::App& app, context& ctx);     // delete, kick, kick-job, pause-tube, peek*
void add_info_commands(CLI::App& app, context& ctx);    // stats*, list-*
void add_top_command(CLI::App& app, context& ctx);      // top
void add_transfer_commands(CLI::App& app, context& ctx);  // export, import
void add_admin_commands(CLI::App& app, context& ctx);     // move, flush
void add_exporter_command(CLI::App& app, context& ctx);   // exporter
void add_console_command(CLI::App& app, context& ctx);    // console

}  // namespace beanpole::cli
