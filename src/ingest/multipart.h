// multipart/form-data parsing (RFC 7578) over a body held in memory. Stateless and thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace iotstream::ingest {

struct FormPart {
  std::string name;          // the form field name
  std::string filename;      // empty when the part is not a file
  std::string content_type;  // empty when the part sent none
  std::string_view data;     // view into the body passed to ParseMultipart
};

// Returns the boundary parameter of a multipart Content-Type (quotes removed), or InvalidArgument.
Result<std::string> MultipartBoundary(std::string_view content_type);

// Splits `body` into its parts. The views in the result point into `body`, which must outlive them.
// Accepts CRLF and bare-LF line ends and a preamble before the first boundary. InvalidArgument when the
// first boundary or the closing boundary is missing or a part has no header/body separator.
Result<std::vector<FormPart>> ParseMultipart(std::string_view body, std::string_view boundary);

}  // namespace iotstream::ingest
