// Defines the Boost.Test runner's entry point once for every suite.
#define BOOST_TEST_MODULE cellhub
#include <boost/test/unit_test.hpp>
