#include "tools/ixctl/config_command.h"

#include <iostream>
#include <sstream>

#include "cluster-config/loader.h"
#include "cluster-config/options.h"

namespace ix::tools {

namespace {

std::string join(const std::vector<std::string>& items, const std::string& empty = "-") {
  if (items.empty()) return empty;
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + items[i];
  return out;
}

std::string endpoint(const config::ServerEndpoint& e) {
  return e.host + ":" + std::to_string(e.port) + " (admin " + std::to_string(e.admin_port) + ")";
}

void print_summary(const config::ClusterConfig& c, std::ostream& out) {
  out << c.source_file << ": valid\n\ncluster " << c.name << "\n";
  std::vector<std::string> tenants;
  for (const auto& t : c.tenants) tenants.push_back(t.name.empty() ? t.id : t.id + " (" + t.name + ")");
  out << "tenants: " << join(tenants) << "\n";
  std::vector<std::string> media;
  for (const auto& m : c.media_types) media.push_back(m.enabled ? m.name : m.name + " (disabled)");
  out << "media types: " << join(media) << "\n\nnode pairs:\n";
  for (const auto& p : c.node_pairs) {
    out << "  " << p.id << " (tag " << p.tag << ")\n"
        << "    primary " << endpoint(p.primary) << ", backup " << endpoint(p.backup) << (p.tls.enabled ? ", TLS" : "") << "\n"
        << "    tenants " << join(p.tenants) << "; media " << join(p.media_types, "all")
        << "; submit " << (p.enable_submit ? "enabled" : "disabled") << "; " << p.agent_seats << " agent seats\n"
        << "    storage " << (p.storage.sqlite_path.empty() ? "postgresql" : "sqlite " + p.storage.sqlite_path) << "\n";
  }
  out << "\nproxy clusters:\n";
  for (const auto& pc : c.proxy_clusters) {
    out << "  " << pc.id << (pc.description.empty() ? "" : " (" + pc.description + ")") << "\n";
    for (const std::string& id : pc.proxies) {
      const config::Proxy* p = c.proxy(id);
      out << "    " << p->id << " " << endpoint(p->endpoint) << (p->tls.enabled ? ", TLS" : "")
          << (p->link_tls.cert_file.empty() ? "" : ", link certificate " + p->link_tls.cert_file) << "\n";
    }
  }
  out << "proxy secret ([proxy-auth]): "
      << (!c.proxy_auth ? "none"
          : c.proxy_auth->secret_file.empty() ? "from $" + c.proxy_auth->secret_env
                                              : "from " + c.proxy_auth->secret_file)
      << "\n";
  out << "\nqueues: " << c.queues.size() << ", views: " << c.views.size() << ", agents: " << c.agents.size()
      << ", agent groups: " << c.agent_groups.size() << "\n";
  out << "\npacing targets:";
  if (c.pacing_targets.empty()) out << " none";
  out << "\n";
  for (const auto& t : c.pacing_targets) {
    out << "  " << t.name << ": goal " << t.optimization_goal << "%, agent groups " << join(t.agent_groups, "none") << "\n";
  }
  if (c.pacing) {
    out << "pacing service: tenant " << c.pacing->tenant << ", every " << config::format_duration(c.pacing->refresh_period)
        << " to " << join(c.pacing->base_urls) << " " << c.pacing->target_endpoint << "\n";
  }
}

}  // namespace

void add_config_commands(CLI::App& app, int& exit_code) {
  CLI::App* config = app.add_subcommand("config", "Work with cluster configuration files");
  config->require_subcommand(1);

  auto file = std::make_shared<std::string>();
  CLI::App* check = config->add_subcommand("check", "Validate a configuration file and summarize the cluster it describes");
  check->add_option("FILE", *file, "Configuration file (TOML)")->required();
  check->footer("Exit codes: 0 valid, 1 invalid (errors printed with file:line: key), 2 unreadable.");
  check->callback([file, &exit_code] {
    config::LoadResult result = config::load_config_file(*file);
    if (result.ok()) {
      print_summary(*result.config, std::cout);
      exit_code = kConfigValid;
      return;
    }
    std::cerr << result.error_text();
    if (!result.unreadable) std::cerr << result.errors.size() << " error(s); the configuration is not valid\n";
    exit_code = result.unreadable ? kConfigUnreadable : kConfigInvalid;
  });

  CLI::App* reference = config->add_subcommand("reference", "Print the configuration reference (docs/configuration.md)");
  reference->callback([&exit_code] {
    std::cout << config::reference_markdown();
    exit_code = 0;
  });
}

}  // namespace ix::tools
