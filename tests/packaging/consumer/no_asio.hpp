// Included last by the consumers of beanpole::proto and beanpole::client: neither layer may bring
// Asio's headers or its compile definitions. (The packaging tests also put a directory first on
// the include path whose asio headers are all #error, so an Asio include fails even earlier.)
#pragma once

#ifdef ASIO_DETAIL_CONFIG_HPP  // the guard of asio/detail/config.hpp, which Asio's headers include
#error "an Asio header was included"
#endif
#ifdef ASIO_STANDALONE
#error "ASIO_STANDALONE leaked into a consumer that does not use Asio"
#endif
