# packaging.cmake - man pages, mount helper, systemd unit, bash completion,
# example config, and the Debian package (cpack -G DEB, see README).
include(GNUInstallDirs)

# Where mount(8), systemd and the package's config live.  The defaults
# keep `cmake --install` under the prefix; the Debian package sets the
# system paths (tests/integration/test_deb.sh).
set(MESH_MOUNT_HELPER_DIR ${CMAKE_INSTALL_SBINDIR} CACHE STRING "Where mount.meshfs goes")
set(MESH_SYSTEMD_UNIT_DIR lib/systemd/system CACHE STRING "Where meshfs@.service goes")
set(MESH_CONFIG_DIR ${CMAKE_INSTALL_SYSCONFDIR}/meshfs CACHE STRING "Where the example config goes")

# Man pages, from packaging/man/*.scd; meshfs.1's COMMANDS section comes
# from the binary's command table (meshfs help --scdoc).
find_program(SCDOC scdoc)
set(MESH_MAN_DIR ${CMAKE_BINARY_DIR}/man)
set(MESH_MAN_PAGES meshfs.1 meshfs-control.5 mount.meshfs.8)
if(SCDOC)
  set(outputs "")
  foreach(page ${MESH_MAN_PAGES})
    set(src ${CMAKE_SOURCE_DIR}/packaging/man/${page}.scd)
    set(out ${MESH_MAN_DIR}/${page})
    set(extra "")
    set(deps ${src} ${CMAKE_SOURCE_DIR}/packaging/man/scdoc.cmake)
    if(page STREQUAL "meshfs.1")
      set(extra -DMESHFS=$<TARGET_FILE:meshfs>)
      list(APPEND deps meshfs)
    endif()
    add_custom_command(OUTPUT ${out} ${out}.gz
      COMMAND ${CMAKE_COMMAND} -E make_directory ${MESH_MAN_DIR}
      COMMAND ${CMAKE_COMMAND} -DSCDOC=${SCDOC} -DSRC=${src} -DOUT=${out} ${extra}
              -P ${CMAKE_SOURCE_DIR}/packaging/man/scdoc.cmake
      DEPENDS ${deps}
      COMMENT "man page ${page}")
    list(APPEND outputs ${out} ${out}.gz)
    string(REGEX REPLACE ".*\\.([0-9])$" "\\1" section ${page})
    install(FILES ${out}.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
  endforeach()
  add_custom_target(man ALL DEPENDS ${outputs})
  # mount(8) runs mount.fuse.meshfs for -t fuse.meshfs: the same helper.
  file(MAKE_DIRECTORY ${MESH_MAN_DIR})
  file(CREATE_LINK mount.meshfs.8.gz ${MESH_MAN_DIR}/mount.fuse.meshfs.8.gz SYMBOLIC)
  install(FILES ${MESH_MAN_DIR}/mount.fuse.meshfs.8.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man8)
else()
  message(STATUS "scdoc not found: no man pages (apt-get install scdoc)")
endif()

install(PROGRAMS ${CMAKE_SOURCE_DIR}/packaging/mount.meshfs DESTINATION ${MESH_MOUNT_HELPER_DIR})
file(CREATE_LINK mount.meshfs ${CMAKE_BINARY_DIR}/mount.fuse.meshfs SYMBOLIC)
install(FILES ${CMAKE_BINARY_DIR}/mount.fuse.meshfs DESTINATION ${MESH_MOUNT_HELPER_DIR})
install(FILES ${CMAKE_SOURCE_DIR}/packaging/meshfs@.service DESTINATION ${MESH_SYSTEMD_UNIT_DIR})
install(FILES ${CMAKE_SOURCE_DIR}/packaging/completion/meshfs
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions)
install(FILES ${CMAKE_SOURCE_DIR}/packaging/meshfs.conf.example DESTINATION ${MESH_CONFIG_DIR})

# --- the Debian package: cpack -G DEB (packaging/build-deb.sh) -----------
set(MESH_DOC_DIR ${CMAKE_INSTALL_DATADIR}/doc/meshfs)
install(FILES ${CMAKE_SOURCE_DIR}/packaging/debian/copyright DESTINATION ${MESH_DOC_DIR})
configure_file(${CMAKE_SOURCE_DIR}/packaging/debian/changelog.in
               ${CMAKE_BINARY_DIR}/debian/changelog @ONLY)
execute_process(COMMAND gzip -9n -c ${CMAKE_BINARY_DIR}/debian/changelog
                OUTPUT_FILE ${CMAKE_BINARY_DIR}/debian/changelog.gz)
install(FILES ${CMAKE_BINARY_DIR}/debian/changelog.gz DESTINATION ${MESH_DOC_DIR})

if(IS_ABSOLUTE ${MESH_CONFIG_DIR})
  set(MESH_CONFIG_FULL_DIR ${MESH_CONFIG_DIR})
else()
  set(MESH_CONFIG_FULL_DIR ${CMAKE_INSTALL_PREFIX}/${MESH_CONFIG_DIR})
endif()
configure_file(${CMAKE_SOURCE_DIR}/packaging/debian/conffiles.in
               ${CMAKE_BINARY_DIR}/debian/conffiles @ONLY)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME meshfs)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "meshfs maintainers <meshfs@lists.meshfs.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "versioned data lake per domain of a data mesh (FUSE)")
set(CPACK_PACKAGE_DESCRIPTION "meshfs is a FUSE filesystem that gives every domain of a data mesh\n\
its own Git-like versioned data lake: branches, tags, commits, merges\n\
and zero-copy copies, mounted as one ordinary directory tree and driven\n\
by a control file or the meshfs command.")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION utils)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/meshfs/meshfs")
# fuse3 for fusermount3 (umount) and /dev/fuse's rules; the libraries
# (libfuse3, librocksdb, libzstd, libssl, libmicrohttpd, and for data
# contracts libyaml, libcsv, libjansson; libyaml for product cards too;
# libsqlite3 for the catalog's index)
# come from dpkg-shlibdeps.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "fuse3")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${CMAKE_BINARY_DIR}/debian/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
