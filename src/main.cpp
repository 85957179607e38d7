// iotstream: parse the configuration, run until SIGINT/SIGTERM.
#include "app/app.h"

int main(int argc, char** argv) {
  int exit_code = 0;
  auto config = iotstream::app::ParseConfig(argc, argv, &exit_code);
  if (!config) return exit_code;
  return iotstream::app::Run(*config);
}
