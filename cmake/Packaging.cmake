# Installation and the Debian package (cpack -G DEB in the build folder): the five binaries, the
# systemd units with their sysusers file, an /etc/ixcluster example, the logrotate file, the
# docs and every binary's --help as a text page. docs/deployment.md describes the result.
include(GNUInstallDirs)

# `cpack` / `make install` install what is built; they do not build the whole tree (tests and
# benchmarks are not installed). The package test builds what it installs first.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

set(IX_PROGRAMS ixnode ixproxy ixctl ixsim ixengage)
install(TARGETS ${IX_PROGRAMS} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})

install(FILES deploy/systemd/ixnode@.service deploy/systemd/ixproxy@.service DESTINATION lib/systemd/system)
install(FILES deploy/systemd/ixcluster.sysusers DESTINATION lib/sysusers.d RENAME ixcluster.conf)
install(FILES deploy/etc/cluster.toml deploy/etc/ixnode@pair-1-backup.env DESTINATION /etc/ixcluster)
install(FILES deploy/logrotate/ixcluster DESTINATION /etc/logrotate.d)
install(FILES deploy/prometheus/alerts.yml DESTINATION ${CMAKE_INSTALL_DATADIR}/ixcluster/prometheus)
install(FILES README.md docs/deployment.md docs/configuration.md docs/operations.md docs/errors.md docs/conditions.md
              docs/pacing.md examples/local-cluster.toml examples/large-cluster.toml
        DESTINATION ${CMAKE_INSTALL_DOCDIR})

# Each binary's --help (with its subcommands') as a text page in the docs folder.
set(help_pages "")
foreach(program IN LISTS IX_PROGRAMS)
  set(page ${CMAKE_BINARY_DIR}/help/${program}.txt)
  add_custom_command(OUTPUT ${page}
    COMMAND ${CMAKE_COMMAND} -DPROGRAM=$<TARGET_FILE:${program}> -DOUTPUT=${page} -P ${PROJECT_SOURCE_DIR}/cmake/HelpPage.cmake
    DEPENDS ${program} ${PROJECT_SOURCE_DIR}/cmake/HelpPage.cmake
    COMMENT "Writing ${program} --help to help/${program}.txt" VERBATIM)
  list(APPEND help_pages ${page})
endforeach()
add_custom_target(ix_help_pages ALL DEPENDS ${help_pages})
install(FILES ${help_pages} DESTINATION ${CMAKE_INSTALL_DOCDIR}/help)

# Everything `cpack` needs built.
add_custom_target(ix_package_contents DEPENDS ${IX_PROGRAMS} ix_help_pages)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME ixcluster)
set(CPACK_PACKAGE_VENDOR ixcluster)
set(CPACK_PACKAGE_CONTACT "ixcluster maintainers <ixcluster@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "clustered interaction server: node pairs, routing proxy, pacing")
set(CPACK_PACKAGE_DESCRIPTION "ixnode (a node of a primary/backup pair), ixproxy (the stateless routing proxy with \
its status page and the pacing module), ixctl (the operator's tool), ixsim and ixengage (simulators), with \
systemd units ixnode@.service and ixproxy@.service.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_STRIP_FILES ON)  # debug information stays in the build tree
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "systemd, logrotate")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/deploy/debian/conffiles ${PROJECT_SOURCE_DIR}/deploy/debian/postinst
    ${PROJECT_SOURCE_DIR}/deploy/debian/prerm ${PROJECT_SOURCE_DIR}/deploy/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
