// Uploads written the way camera firmwares and tools write them, byte for byte over a plain socket: each is accepted
// and its JPEG stored unchanged; bodies without a JPEG are refused with an error that says what they held.
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "support/server_test.h"

namespace iotstream {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using nlohmann::json;
using testing::HttpClient;

struct Answer {
  int status = 0;
  std::string body;
};

// Sends `request` as it is on a new connection and reads one response.
Answer SendRaw(unsigned short port, const std::string& request) {
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  boost::system::error_code ec;
  socket.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
  if (ec) return {};
  asio::write(socket, asio::buffer(request), ec);
  if (ec) return {};
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(socket, buffer, res, ec);
  if (ec) return {};
  return {static_cast<int>(res.result_int()), res.body()};
}

std::string Head(const std::string& lines, size_t content_length) {
  return lines + "Content-Length: " + std::to_string(content_length) + "\r\n\r\n";
}

std::string Chunked(const std::string& data, size_t chunk) {
  std::string out;
  for (size_t at = 0; at < data.size(); at += chunk) {
    const std::string piece = data.substr(at, chunk);
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
    out += size + piece + "\r\n";
  }
  return out + "0\r\n\r\n";
}

class CameraShapesTest : public testing::ServerTest {};

TEST_F(CameraShapesTest, WhatFirmwaresSendIsStoredByteForByte) {
  auto server = Start({"--recognition=false"});
  ASSERT_NE(server.port(), 0);
  const std::string& jpeg = obama_;
  struct Shape {
    std::string what;
    std::string request;
  };
  std::vector<Shape> shapes;
  {
    // The most copied ESP32-CAM upload sketch: field "imageFile", its own boundary, println line ends, no device id.
    const std::string head = "--RandomNerdTutorials\r\nContent-Disposition: form-data; name=\"imageFile\"; "
                             "filename=\"esp32-cam.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n";
    const std::string tail = "\r\n--RandomNerdTutorials--\r\n";
    shapes.push_back({"esp32 sketch, field imageFile",
                      Head("POST /api/v1/stream/fast HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                           "Content-Type: multipart/form-data; boundary=RandomNerdTutorials\r\n",
                           head.size() + jpeg.size() + tail.size()) +
                          head + jpeg + tail});
  }
  shapes.push_back({"curl --data-binary (form-urlencoded type)",
                    Head("POST /api/v1/stream/fast HTTP/1.1\r\nHost: x\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n"
                         "X-Device-ID: curl-cam\r\nContent-Type: application/x-www-form-urlencoded\r\n",
                         jpeg.size()) + jpeg});
  shapes.push_back({"no content type", Head("POST /api/v1/stream/fast HTTP/1.1\r\nX-Device-ID: bare\r\n", jpeg.size()) +
                                           jpeg});
  shapes.push_back({"chunked image/jpeg",
                    "POST /api/v1/stream/stream HTTP/1.1\r\nHost: x\r\nX-Device-ID: chunky\r\n"
                    "Content-Type: image/jpeg\r\nTransfer-Encoding: chunked\r\n\r\n" + Chunked(jpeg, 4096)});
  shapes.push_back({"HTTP/1.0, one connection per frame",
                    Head("POST /api/v1/stream/fast?device_id=old-cam HTTP/1.0\r\nConnection: close\r\n"
                         "Content-Type: image/jpeg\r\n", jpeg.size()) + jpeg});
  {
    // Text fields before the file, the file as application/octet-stream under "file".
    const std::string body = "--xYz\r\nContent-Disposition: form-data; name=\"device_id\"\r\n\r\nform-cam\r\n"
                             "--xYz\r\nContent-Disposition: form-data; name=\"timestamp\"\r\n\r\n0\r\n"
                             "--xYz\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n"
                             "Content-Type: application/octet-stream\r\n\r\n" + jpeg + "\r\n--xYz--\r\n";
    shapes.push_back({"fields before the file", Head("POST /api/v1/stream/fast HTTP/1.1\r\n"
                                                     "Content-Type: multipart/form-data; boundary=xYz\r\n",
                                                     body.size()) + body});
  }
  {
    // A part header without its blank line, lower-case header names, LF line ends.
    const std::string body = "--b\ncontent-disposition: form-data; name=\"photo\"\ncontent-type: image/jpeg\n" + jpeg +
                             "\n--b--\n";
    shapes.push_back({"part header without a blank line", Head("POST /api/v1/stream/fast HTTP/1.1\r\nX-Device-ID: "
                                                               "lf-cam\r\nContent-Type: multipart/form-data; "
                                                               "boundary=b\r\n", body.size()) + body});
  }
  {
    // The Content-Type names another boundary than the body uses, and the closing delimiter never comes.
    const std::string body = "--realboundary\r\nContent-Disposition: form-data; name=\"frame\"\r\n\r\n" + jpeg + "\r\n";
    shapes.push_back({"wrong boundary parameter, no closing delimiter",
                      Head("POST /api/v1/stream/fast HTTP/1.1\r\nX-Device-ID: sloppy\r\n"
                           "Content-Type: multipart/form-data; boundary=other\r\n", body.size()) + body});
  }

  HttpClient c(server.port());
  for (const auto& shape : shapes) {
    const Answer a = SendRaw(server.port(), shape.request);
    ASSERT_EQ(a.status, 200) << shape.what << ": " << a.body;
    const json j = json::parse(a.body, nullptr, false);
    ASSERT_TRUE(j.is_object()) << shape.what << ": " << a.body;
    EXPECT_EQ(j["size"], jpeg.size()) << shape.what;
    const auto frame_id = j["frame_id"].get<uint64_t>();
    // Fast-path frames are written by the storage thread shortly after the answer.
    testing::HttpResult stored;
    ASSERT_TRUE(testing::WaitFor([&] {
      stored = c.Get("/api/v1/frames/" + std::to_string(frame_id));
      return stored.status == 200;
    })) << shape.what << ": " << stored.status << " " << stored.body;
    EXPECT_TRUE(stored.body == jpeg) << shape.what << ": stored bytes differ";
  }
  const json devices = json::parse(c.Get("/api/v1/devices").body);
  std::vector<std::string> ids;
  for (const auto& d : devices["devices"]) ids.push_back(d["id"]);
  for (const char* id : {"127.0.0.1", "curl-cam", "bare", "chunky", "old-cam", "form-cam", "lf-cam", "sloppy"}) {
    EXPECT_NE(std::find(ids.begin(), ids.end(), id), ids.end()) << id;
  }
}

TEST_F(CameraShapesTest, BodiesWithoutAJpegAreRefusedSayingWhatTheyHeld) {
  auto server = Start({"--recognition=false"});
  ASSERT_NE(server.port(), 0);
  const std::string text = "temperature=21.5";
  const Answer form = SendRaw(server.port(), Head("POST /api/v1/stream/fast HTTP/1.1\r\nX-Device-ID: t\r\n"
                                                  "Content-Type: application/x-www-form-urlencoded\r\n",
                                                  text.size()) + text);
  EXPECT_EQ(form.status, 415) << form.body;
  EXPECT_NE(json::parse(form.body)["error"].get<std::string>().find("starting with 'temperature=21.5'"),
            std::string::npos) << form.body;

  const std::string body = "--b\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n--b--\r\n";
  const Answer parts = SendRaw(server.port(), Head("POST /api/v1/stream/fast HTTP/1.1\r\nX-Device-ID: t\r\n"
                                                   "Content-Type: multipart/form-data; boundary=b\r\n",
                                                   body.size()) + body);
  EXPECT_EQ(parts.status, 400) << parts.body;
  EXPECT_NE(json::parse(parts.body)["error"].get<std::string>().find("'note' (5 bytes"), std::string::npos)
      << parts.body;

  const std::string png = testing::FaceJpeg("ageitgey_face_recognition/examples/alex-lacamoire.png");
  const Answer not_jpeg = SendRaw(server.port(), Head("POST /api/v1/stream/fast HTTP/1.1\r\nX-Device-ID: t\r\n"
                                                      "Content-Type: image/png\r\n", png.size()) + png);
  EXPECT_EQ(not_jpeg.status, 400) << not_jpeg.body;
  EXPECT_NE(not_jpeg.body.find("not a JPEG"), std::string::npos) << not_jpeg.body;
}

}  // namespace
}  // namespace iotstream
