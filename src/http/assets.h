// Files served from the binary (SPEC §13): the OpenAPI document, Swagger UI and the console,
// linked in at build time (src/http/room.cmake), so nothing is read from disk or the internet.
#pragma once

#include <string_view>
#include <vector>

namespace http {

struct Asset {
  std::string_view path;  // as served, without ROUTE_PREFIX: "/openapi.json", "/console/app.js"
  std::string_view contentType;
  std::string_view body;
};

// The asset served at `path`, or null.
const Asset* findAsset(std::string_view path);

}  // namespace http
