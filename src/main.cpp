// iotstream: parse the configuration, run until SIGINT/SIGTERM; or run an administration command (token, user).
#include "app/app.h"

int main(int argc, char** argv) {
  if (argc > 1 && iotstream::app::IsCommand(argv[1])) return iotstream::app::RunCommand(argc, argv);
  int exit_code = 0;
  auto config = iotstream::app::ParseConfig(argc, argv, &exit_code);
  if (!config) return exit_code;
  return iotstream::app::Run(*config);
}
