// The dashboard's static files, read into memory at start so no request touches the disk.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "api/api.h"

namespace iotstream::api {
namespace {

std::string ContentTypeOf(const std::filesystem::path& p) {
  const std::string ext = p.extension().string();
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".ico") return "image/x-icon";
  if (ext == ".json") return "application/json";
  return "application/octet-stream";
}

}  // namespace

Status AddStaticRoutes(http::Router& router, const std::string& web_dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(web_dir, ec)) return Status::IOError("web folder " + web_dir + " does not exist");
  for (auto it = fs::recursive_directory_iterator(web_dir, ec); !ec && it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    std::ifstream in(it->path(), std::ios::binary);
    std::ostringstream body;
    body << in.rdbuf();
    if (!in) return Status::IOError("cannot read " + it->path().string());
    auto file = std::make_shared<const http::Response>(
        http::Response{200, ContentTypeOf(it->path()), body.str(), {{"Cache-Control", "no-cache"}}});
    auto serve = [file](http::Request&&, http::Responder s) { s.Send(*file); };
    const std::string rel = fs::relative(it->path(), web_dir).generic_string();
    router.Add(http::Method::kGet, "/" + rel, serve);
    if (rel == "index.html") router.Add(http::Method::kGet, "/", serve);
  }
  if (ec) return Status::IOError("cannot list " + web_dir + ": " + ec.message());
  return Status::Ok();
}

}  // namespace iotstream::api
