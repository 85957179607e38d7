#include <atomic>
#include <charconv>
#include <thread>

#include "cluster/pg.h"
#include "cluster/shared_state.h"
#include "core/log.h"

namespace iotstream::cluster {

class ChangeListener::Impl {
 public:
  Impl(std::string url, std::string node_id, ChangeCallbacks callbacks, Metrics& metrics)
      : url_(std::move(url)),
        node_id_(std::move(node_id)),
        callbacks_(std::move(callbacks)),
        notifications_(metrics.counter("cluster_notifications_total",
                                       "gallery changes and events announced by other nodes, as heard by this one")),
        reconnects_(metrics.counter("cluster_listener_reconnects_total",
                                    "connections the change listener made to the database (the first included)")),
        thread_([this] { Run(); }) {}

  ~Impl() {
    stop_ = true;
    thread_.join();
  }

 private:
  // Slices of at most this long between looks at stop_.
  static constexpr int64_t kWaitMs = 250;

  void Run() {
    bool reported = false;  // the database's absence is logged once per outage
    while (!stop_) {
      auto opened = pg::Connection::Open(url_);
      if (opened.ok()) {
        std::unique_ptr<pg::Connection> conn = std::move(opened).value();
        const Status listening =
            conn->Run(std::string("LISTEN ") + kGalleryChannel + "; LISTEN " + kEventsChannel);
        if (listening.ok()) {
          reconnects_.Add();
          if (reported) IOT_LOG(kInfo) << "cluster: listening to the other nodes' changes again";
          reported = false;
          if (callbacks_.on_connected) callbacks_.on_connected();
          Listen(*conn);
          continue;
        }
        opened = listening;
      }
      if (!reported) {
        IOT_LOG(kWarn) << "cluster: cannot listen to the other nodes' changes: " << opened.status().ToString()
                       << "; trying again each second";
        reported = true;
      }
      for (int i = 0; i < 4 && !stop_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(kWaitMs));
    }
  }

  // Until the connection breaks or the listener stops.
  void Listen(pg::Connection& conn) {
    while (!stop_) {
      auto got = conn.AwaitNotifications(kWaitMs);
      if (!got.ok()) {
        IOT_LOG(kWarn) << "cluster: lost the database's notifications: " << got.status().ToString();
        return;
      }
      bool gallery = false;
      for (const auto& n : got.value()) {
        notifications_.Add();
        const size_t space = n.payload.find(' ');
        if (n.channel == kGalleryChannel) {
          gallery = true;
        } else if (n.channel == kEventsChannel && space != std::string::npos && n.payload.substr(0, space) != node_id_ &&
                   callbacks_.event_logged) {
          int64_t id = 0;
          const char* begin = n.payload.data() + space + 1;
          const char* end = n.payload.data() + n.payload.size();
          if (std::from_chars(begin, end, id).ec == std::errc()) callbacks_.event_logged(id);
        }
      }
      if (gallery && callbacks_.gallery_changed) callbacks_.gallery_changed();
    }
  }

  const std::string url_;
  const std::string node_id_;
  const ChangeCallbacks callbacks_;
  Counter& notifications_;
  Counter& reconnects_;
  std::atomic<bool> stop_{false};
  std::thread thread_;  // last: starts once everything above is set
};

ChangeListener::ChangeListener(std::string database_url, std::string node_id, ChangeCallbacks callbacks,
                               Metrics& metrics)
    : impl_(std::make_unique<Impl>(std::move(database_url), std::move(node_id), std::move(callbacks), metrics)) {}

ChangeListener::~ChangeListener() = default;

}  // namespace iotstream::cluster
