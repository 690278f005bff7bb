// A local HTTP server that records what dhanbak's [notify] sends: webhook POSTs to /hook, and
// GETs of /ping, /start and /fail with their `msg` parameter, in arrival order.
#pragma once

#include <httplib.h>

#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace dhanbak::test {

struct NotificationRecorder {
  httplib::Server server;
  std::thread thread;
  int port = 0;
  std::mutex mu;
  std::vector<std::string> hook_bodies;
  std::vector<std::string> events;  // "start MSG", "ping MSG", "fail MSG" in arrival order
  int pings = 0;

  NotificationRecorder() {
    server.Post("/hook", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu);
      hook_bodies.push_back(req.body);
      res.set_content("ok", "text/plain");
    });
    server.Get("/ping", [this](const httplib::Request& req, httplib::Response& res) {
      std::lock_guard<std::mutex> lock(mu);
      ++pings;
      events.push_back("ping " + req.get_param_value("msg"));
      res.set_content("ok", "text/plain");
    });
    for (const char* event : {"/start", "/fail"}) {
      server.Get(event, [this, event](const httplib::Request& req, httplib::Response& res) {
        std::lock_guard<std::mutex> lock(mu);
        events.push_back(std::string(event + 1) + " " + req.get_param_value("msg"));
        res.set_content("ok", "text/plain");
      });
    }
    port = server.bind_to_any_port("127.0.0.1");
    thread = std::thread([this] { server.listen_after_bind(); });
  }
  ~NotificationRecorder() {
    server.stop();
    thread.join();
  }
};

}  // namespace dhanbak::test
