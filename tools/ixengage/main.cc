// ixengage: the engagement-service simulator. An HTTPS server standing in for the cloud service
// that receives the pacing decisions of ixproxy (token and bulk endpoints per docs/pacing.md),
// with simulated web visitors who accept invitations and become proactive chats in the cluster,
// failure modes for the alarm tests and an admin endpoint. `ixengage --help` lists the flags;
// tools/README.md describes the admin endpoint and the files.
#include <CLI/CLI.hpp>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <random>

#include "cluster-config/loader.h"
#include "cluster-config/ports_file.h"
#include "cluster-config/tls.h"
#include "protocol/build_info.h"
#include "protocol/http/http_server.h"
#include "protocol/net/process_signals.h"
#include "tools/ixengage/certificates.h"
#include "tools/ixengage/engagement_service.h"

namespace {

using namespace ix;

// "1h", "30s", "1500ms", "2m" or a plain number of seconds ("0.5").
std::optional<uint64_t> parse_duration_ms(const std::string& text) {
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  const std::string unit = text.substr(used);
  double scale = 0;
  if (unit.empty() || unit == "s") scale = 1000;
  else if (unit == "ms") scale = 1;
  else if (unit == "m") scale = 60'000;
  else if (unit == "h") scale = 3'600'000;
  if (scale == 0 || !(value >= 0) || value * scale > 1e15) return std::nullopt;
  return static_cast<uint64_t>(value * scale + 0.5);
}

uint64_t duration_option(const std::string& flag, const std::string& text) {
  std::optional<uint64_t> ms = parse_duration_ms(text);
  if (!ms) throw CLI::ValidationError(flag, "\"" + text + "\" is not a duration (e.g. 500ms, 15s, 2m, 1h)");
  return *ms;
}

// "id:secret", surrounding whitespace trimmed.
std::pair<std::string, std::string> parse_credentials(const std::string& flag, std::string text) {
  const size_t b = text.find_first_not_of(" \t\r\n");
  text = b == std::string::npos ? "" : text.substr(b, text.find_last_not_of(" \t\r\n") - b + 1);
  const size_t colon = text.find(':');
  if (colon == std::string::npos || colon == 0) throw CLI::ValidationError(flag, "credentials must be client_id:client_secret");
  return {text.substr(0, colon), text.substr(colon + 1)};
}

// "https://127.0.0.1:7443/api/" -> "/api/".
std::string url_path(const std::string& url) {
  const size_t scheme = url.find("://");
  const size_t slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  return slash == std::string::npos ? "/" : url.substr(slash);
}

std::string with_slashes(std::string path) {
  if (path.empty() || path.front() != '/') path.insert(path.begin(), '/');
  if (path.back() != '/') path += '/';
  return path;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ixengage: a local stand-in for the engagement service that receives ixproxy's pacing decisions"};
  app.set_version_flag("--version", "ixengage " + std::string(ix::build_version()) + " (commit " + std::string(ix::build_commit()) + ")");
  std::string host = "127.0.0.1", ports_file, state_dir = ".ix/engagement-sim", credentials, credentials_env;
  std::string token_ttl = "1h", path_prefix = "/api/", target_endpoint = "v2/journey/actiontargets/bulk", config_file;
  std::string tenant, queue = "proactive-chat", lead_patience = "5s", accept_delay = "2s..8s", invitation_timeout = "15s";
  std::string mode_text = "ok";
  std::vector<std::string> proxies;
  uint16_t port = 7443;
  bool no_submit = false;
  uint64_t seed = std::random_device{}();
  ix::engage::VisitorOptions visitors;

  app.add_option("--host", host, "address to listen on")->capture_default_str();
  app.add_option("--port", port, "HTTPS port (0: the OS chooses; see --ports-file)")->capture_default_str();
  app.add_option("--ports-file", ports_file, "write {\"port\": P, \"admin-port\": P} here once listening");
  app.add_option("--state-dir", state_dir, "where the generated CA (ca.pem) and server certificate (cert.pem, key.pem) live")
      ->capture_default_str();
  app.add_option("--credentials", credentials, "the accepted client credentials, client_id:client_secret");
  app.add_option("--credentials-env", credentials_env, "environment variable holding client_id:client_secret");
  app.add_option("--token-ttl", token_ttl, "lifetime of an issued access token")->capture_default_str();
  app.add_option("--path-prefix", path_prefix,
                 "path the base URL ends with, the bulk endpoint is under it (default with --config: the path of "
                 "[pacing.endpoint] base-urls' first)")
      ->capture_default_str();
  app.add_option("--target-endpoint", target_endpoint,
                 "the bulk endpoint below --path-prefix (default with --config: [pacing.endpoint] target-endpoint)")
      ->capture_default_str();
  app.add_option("--config", config_file, "cluster configuration: the pacing targets, the proxies, the virtual-queue key")
      ->check(CLI::ExistingFile);
  app.add_option("--tenant", tenant, "tenant of targets not in --config (default: [pacing] tenant of --config)");
  app.add_option("--proxy", proxies, "proxy host:port to submit accepted invitations through; repeatable (default: the "
                                     "proxies of --config)");
  app.add_flag("--no-submit", no_submit, "count accepted invitations without submitting them");
  app.add_option("--queue", queue, "queue the proactive chats are submitted to")->capture_default_str();
  app.add_option("--lead-rate", visitors.lead_rate, "hot leads per second per target (Poisson)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--lead-patience", lead_patience, "a lead not invited within this time leaves")->capture_default_str();
  app.add_option("--accept-probability", visitors.accept_probability, "chance that a visitor accepts an invitation")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--accept-delay", accept_delay, "MIN..MAX: an accepting visitor accepts after a delay drawn uniformly from it")
      ->capture_default_str();
  app.add_option("--invitation-timeout", invitation_timeout, "an invitation not accepted by then expires")->capture_default_str();
  app.add_option("--mode", mode_text, "failure mode at start: " + ix::engage::mode_names())->capture_default_str();
  app.add_option("--seed", seed, "random seed of the visitors (default: random)");

  ix::engage::ServiceOptions service;
  std::vector<ix::engage::ProxyAddress> proxy_addresses;
  std::string virtual_queue_key = "VirtualQueue";
  try {
    app.parse(argc, argv);
    if (credentials.empty() == credentials_env.empty()) {
      throw CLI::ValidationError("--credentials", "give exactly one of --credentials and --credentials-env");
    }
    if (!credentials_env.empty()) {
      const char* value = std::getenv(credentials_env.c_str());
      if (value == nullptr) throw CLI::ValidationError("--credentials-env", "environment variable " + credentials_env + " is not set");
      credentials = value;
    }
    std::tie(service.client_id, service.client_secret) =
        parse_credentials(credentials_env.empty() ? "--credentials" : "--credentials-env", credentials);
    service.token_ttl_ms = duration_option("--token-ttl", token_ttl);
    if (service.token_ttl_ms < 1000) throw CLI::ValidationError("--token-ttl", "must be at least 1s");
    visitors.lead_patience_ms = duration_option("--lead-patience", lead_patience);
    visitors.invitation_timeout_ms = duration_option("--invitation-timeout", invitation_timeout);
    const size_t dots = accept_delay.find("..");
    if (dots == std::string::npos) throw CLI::ValidationError("--accept-delay", "\"" + accept_delay + "\" is not MIN..MAX");
    visitors.accept_delay_min_ms = duration_option("--accept-delay", accept_delay.substr(0, dots));
    visitors.accept_delay_max_ms = duration_option("--accept-delay", accept_delay.substr(dots + 2));
    if (visitors.accept_delay_min_ms > visitors.accept_delay_max_ms) {
      throw CLI::ValidationError("--accept-delay", "MIN must not be above MAX");
    }
    std::optional<ix::engage::Mode> mode = ix::engage::parse_mode(mode_text);
    if (!mode) throw CLI::ValidationError("--mode", "\"" + mode_text + "\" is not one of: " + ix::engage::mode_names());
    service.mode = *mode;
    for (const std::string& p : proxies) {
      auto endpoint = ix::net::parse_endpoint(p);
      if (!endpoint) throw CLI::ValidationError("--proxy", "\"" + p + "\": " + endpoint.error().text);
      proxy_addresses.push_back({*endpoint, nullptr});
    }
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 3;
  }
  visitors.seed = seed;
  service.default_tenant = tenant;

  if (!config_file.empty()) {
    ix::config::LoadResult loaded = ix::config::load_config_file(config_file);
    if (!loaded.ok()) {
      std::cerr << "ixengage: " << config_file << " is not a valid configuration:\n" << loaded.error_text() << "\n";
      return 3;
    }
    const ix::config::ClusterConfig& cluster = *loaded.config;
    if (cluster.pacing) {
      virtual_queue_key = cluster.pacing->virtual_queue_key;
      if (service.default_tenant.empty()) service.default_tenant = cluster.pacing->tenant;
      // Where the configuration's pacing client posts, unless told otherwise: the path of its
      // first base URL and its target endpoint.
      if (app.count("--path-prefix") == 0 && !cluster.pacing->base_urls.empty()) {
        path_prefix = url_path(cluster.pacing->base_urls.front());
      }
      if (app.count("--target-endpoint") == 0 && !cluster.pacing->target_endpoint.empty()) {
        target_endpoint = cluster.pacing->target_endpoint;
      }
    }
    service.targets.emplace();
    for (const ix::config::PacingTarget& t : cluster.pacing_targets) {
      service.targets->emplace(t.name, ix::engage::TargetInfo{t.name, t.tenant, t.media, t.virtual_queue});
    }
    if (proxies.empty()) {
      for (const ix::config::Proxy& p : cluster.proxies) {
        ix::engage::ProxyAddress address{{p.endpoint.host, p.endpoint.port}, nullptr};
        if (p.tls.enabled) {
          auto tls = ix::config::client_tls(p.tls, ix::config::LinkTls{});
          if (!tls) {
            std::cerr << "ixengage: proxy " << p.id << ": " << tls.error().text << "\n";
            return 3;
          }
          address.tls = *tls;
        }
        proxy_addresses.push_back(std::move(address));
      }
    }
  }
  if (no_submit) proxy_addresses.clear();
  if (target_endpoint.empty()) {
    std::cerr << "ixengage: --target-endpoint must not be empty\n";
    return 3;
  }
  service.bulk_path = with_slashes(path_prefix) + (target_endpoint.front() == '/' ? target_endpoint.substr(1) : target_endpoint);

  auto certificates = ix::engage::ensure_certificates(state_dir);
  if (!certificates) {
    std::cerr << "ixengage: " << certificates.error().text << "\n";
    return 1;
  }
  ix::net::TlsOptions tls_options;
  tls_options.cert_file = certificates->cert_file;
  tls_options.key_file = certificates->key_file;
  auto tls = ix::net::TlsContext::create_server(tls_options);
  if (!tls) {
    std::cerr << "ixengage: " << tls.error().text << " (remove " << state_dir << " to generate new certificates)\n";
    return 1;
  }

  uv_loop_t loop;
  uv_loop_init(&loop);
  int exit_code = 0;
  {
    ix::http::HttpServerOptions http_options;
    http_options.listener.tls = *tls;
    http_options.max_body_bytes = 64 * 1024 * 1024;  // 10,000 targets and more in one post
    ix::http::HttpServer server(&loop, http_options);
    ix::engage::ProactiveSubmitter submitter(&loop, proxy_addresses, queue, virtual_queue_key);
    ix::engage::Visitors simulated(&loop, visitors, submitter);
    ix::engage::EngagementService engagement(&loop, server, simulated, submitter, service);

    // Signals first: a SIGTERM from whoever read the ports file must stop us, not kill us.
    ix::net::ProcessSignals signals(&loop, nullptr, [&](const char* signal) {
      std::cerr << "ixengage: " << signal << ", stopping" << std::endl;
      signals.close();
      simulated.stop();
      submitter.stop();
      server.close();
    });
    ix::net::Endpoint endpoint{host, port};
    if (Status s = server.listen(endpoint); !s) {
      std::cerr << "ixengage: cannot listen on " << endpoint.to_string() << ": " << s.error().text << "\n";
      exit_code = 1;
    }
    if (exit_code == 0) {
      std::cerr << "ixengage: " << (certificates->generated ? "generated a new CA and server certificate in " : "reusing the CA in ")
                << std::filesystem::path(certificates->ca_file).parent_path().string() << "; "
                << (service.targets ? std::to_string(service.targets->size()) + " pacing targets from " + config_file
                                    : std::string("any target id accepted"))
                << "; " << (proxy_addresses.empty() ? std::string("accepted invitations are not submitted")
                                                    : "submitting proactive chats through " + std::to_string(proxy_addresses.size()) +
                                                          " prox" + (proxy_addresses.size() == 1 ? "y" : "ies"))
                << "; bulk endpoint " << service.bulk_path << "; mode " << ix::engage::mode_name(service.mode) << std::endl;
      std::cout << "ixengage listening on https://" << host << ":" << server.port() << " (CA: " << certificates->ca_file << ")"
                << std::endl;
      // Last: whoever waits for this file finds everything above done.
      if (!ports_file.empty() && !ix::config::write_ports_file(ports_file, {server.port(), server.port()})) {
        std::cerr << "ixengage: cannot write the ports file " << ports_file << ": " << std::strerror(errno) << "\n";
        exit_code = 1;
      }
    }
    if (exit_code == 0) {
      submitter.start();
      simulated.start();
      uv_run(&loop, UV_RUN_DEFAULT);
    }
    signals.close();
    server.close();
    submitter.stop();
    simulated.stop();
  }
  // Close callbacks of everything destroyed above.
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return exit_code;
}
