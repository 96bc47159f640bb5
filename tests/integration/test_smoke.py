from tests.conftest import order_event, spi_event, spi_response
from local.platform import sample_order, sign_spi_call


def test_order_is_received_and_visible(invoke, table_items):
    answer = invoke(spi_event(sign_spi_call(sample_order())))
    assert answer["statusCode"] == 200, answer
    assert spi_response(answer)["success"] is True
    view = invoke(order_event(16002))
    print(view)
    assert view["statusCode"] == 200
