"""The two outbound TOP calls: building their parameters and reading their results."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from cardmaker.top import (
    CardBindRequest,
    CardBindResult,
    CardOrderNoticeResult,
    IsvKa,
    IsvMa,
    MakeFinishRequest,
    MaResendRequest,
    MaSendRequest,
    MaSendResult,
    StatusSendedRequest,
    sign_request,
    unwrap_top_response,
)
from cardmaker.top.calls import string_list

# The protocol notes' card.bind vector (also in tests/data/top-vectors.json).
VECTOR_DTO = (
    '{"top_app_key":"-103","out_biz_id":"243FC389EDACDFB9CF0BFC6D1443C97F",'
    '"card_no_s":"3101790202036006151","card_bind_user_nick":"tracey_05"}'
)
VECTOR_SIGN = "B18C89869BE34DED0531F9E166C1C74B45D96F859AE4FDF4E3E9AFE14067FA9E"
VECTOR_SYSTEM = {
    "method": "tmall.purchase.card.bind",
    "app_key": "12345678",
    "timestamp": "2026-11-22 20:30:00",
    "format": "json",
    "v": "2.0",
    "sign_method": "hmac-sha256",
}


def seed_bind(**changes: object) -> CardBindRequest:
    fields: dict[str, object] = {
        "top_app_key": "-103",
        "out_biz_id": "243FC389EDACDFB9CF0BFC6D1443C97F",
        "card_no_s": ["3101790202036006151"],
        "card_bind_user_nick": "tracey_05",
    }
    return CardBindRequest.model_validate({**fields, **changes})


def ka_send(cards: int = 1, **changes: object) -> MaSendRequest:
    fields: dict[str, object] = {
        "outer_id": "1753340805138544",
        "token": "31231231231",
        "certificate_type": 1,
        "isv_ka_list": [{"ka_no": f"NO{i}", "ka_mi": f"卡密-{i}"} for i in range(cards)],
    }
    return MaSendRequest.model_validate({**fields, **changes})


def ma_send(codes: int = 1, **changes: object) -> MaSendRequest:
    fields: dict[str, object] = {
        "outer_id": "1753340805138544",
        "token": "31231231231",
        "isv_ma_list": [{"code": f"code{i}"} for i in range(codes)],
    }
    return MaSendRequest.model_validate({**fields, **changes})


# --- card.bind --------------------------------------------------------------------------


def test_card_bind_dto_is_the_vector_byte_for_byte_and_signs_to_its_sign():
    params = seed_bind().to_params()
    assert params == {"card_bind_req_dto": VECTOR_DTO}
    assert sign_request({**VECTOR_SYSTEM, **params}, "demo-secret-2026", "hmac-sha256") == (
        VECTOR_SIGN
    )


def test_the_vector_file_agrees(top_vectors):
    (vector,) = [v for v in top_vectors["request_signing"] if "card_bind_req_dto" in v["params"]]
    assert vector["params"]["card_bind_req_dto"] == seed_bind().to_params()["card_bind_req_dto"]
    assert vector["sign"] == VECTOR_SIGN


def test_card_numbers_are_comma_joined_and_an_open_uid_replaces_the_nick():
    request = seed_bind(
        card_no_s=["3101000000000000001", "3101000000000000002"],
        card_bind_user_nick=None,
        buyer_open_uid="ASDFJIAOSDF",
    )
    dto = json.loads(request.to_params()["card_bind_req_dto"])
    assert dto == {
        "top_app_key": "-103",
        "out_biz_id": "243FC389EDACDFB9CF0BFC6D1443C97F",
        "card_no_s": "3101000000000000001,3101000000000000002",
        "buyer_open_uid": "ASDFJIAOSDF",
    }
    assert CardBindRequest.METHOD == "tmall.purchase.card.bind"
    assert not CardBindRequest.NEEDS_SESSION


def test_non_ascii_nick_stays_unescaped():
    assert (
        '"card_bind_user_nick":"猫超买家"'
        in seed_bind(card_bind_user_nick="猫超买家").to_params()["card_bind_req_dto"]
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"buyer_open_uid": "ASDFJIAOSDF"},  # both users
        {"card_bind_user_nick": None},  # neither
        {"card_bind_user_nick": "  "},  # a blank one
        {"card_bind_user_nick": None, "buyer_open_uid": ""},
        {"card_no_s": []},
        {"card_no_s": ["3101", ""]},
        {"card_no_s": ["3101,3102"]},  # would turn into two cards on the wire
        {"top_app_key": ""},
        {"out_biz_id": " "},
        {"unknown": "x"},
    ],
)
def test_card_bind_refusals(changes):
    with pytest.raises(ValidationError):
        seed_bind(**changes)


# --- ma.send ---------------------------------------------------------------------------


def test_ka_list_as_an_array_by_default():
    params = ka_send(2).to_params()
    assert params == {
        "outer_id": "1753340805138544",
        "token": "31231231231",
        "biz_type": "3001",
        "certificate_type": "1",
        "isv_ka_list": (
            '[{"ka_no":"NO0","ka_mi":"卡密-0","num":1},{"ka_no":"NO1","ka_mi":"卡密-1","num":1}]'
        ),
    }
    assert MaSendRequest.METHOD == "taobao.eticket.merchant.ma.send"
    assert MaSendRequest.NEEDS_SESSION


def test_ka_list_as_one_object_carries_exactly_one_card():
    assert (
        ka_send(1).to_params("object")["isv_ka_list"] == '{"ka_no":"NO0","ka_mi":"卡密-0","num":1}'
    )
    with pytest.raises(ValueError, match="one card"):
        ka_send(2).to_params("object")
    with pytest.raises(ValueError, match="shape"):
        ka_send(1).to_params("list")  # type: ignore[arg-type]


def test_ma_list_has_no_null_members_and_optional_flags_are_words():
    request = ma_send(2, group_redeem=True, biz_type=3002)
    request = request.model_copy(
        update={"isv_ma_list": [IsvMa(code="abc123", num=2, qr_image="111.png"), IsvMa(code="x")]}
    )
    params = request.to_params()
    assert params["isv_ma_list"] == (
        '[{"code":"abc123","num":2,"qr_image":"111.png"},{"code":"x","num":1}]'
    )
    assert params["group_redeem"] == "true"
    assert params["biz_type"] == "3002"
    assert params["certificate_type"] == "0"
    assert "isv_ka_list" not in params
    assert ma_send(1, group_redeem=False).to_params()["group_redeem"] == "false"
    assert "group_redeem" not in ma_send(1).to_params()


def test_200_codes_are_the_limit():
    assert len(json.loads(ma_send(200).to_params()["isv_ma_list"])) == 200
    with pytest.raises(ValidationError):
        ma_send(201)


@pytest.mark.parametrize(
    "build",
    [
        lambda: ka_send(1, isv_ka_list=[]),  # type 1 without cards
        lambda: ka_send(1, isv_ka_list=None),
        lambda: ka_send(1, isv_ma_list=[{"code": "c"}]),  # type 1 with codes as well
        lambda: ma_send(0),  # type 0 without codes
        lambda: ma_send(1, isv_ka_list=[{"ka_no": "n", "ka_mi": "m"}]),  # type 0 with cards
        lambda: ka_send(1, certificate_type=2),
        lambda: ma_send(1, outer_id=""),
        lambda: ma_send(1, outer_id="   "),
        lambda: ma_send(1, token=""),
        lambda: ma_send(1, token=None),
        lambda: ka_send(1, isv_ka_list=[{"ka_no": "n", "ka_mi": " "}]),
        lambda: ka_send(1, isv_ka_list=[{"ka_no": "n", "ka_mi": "m", "num": 0}]),
        lambda: ma_send(1, isv_ma_list=[{"code": ""}]),
    ],
)
def test_ma_send_refusals(build):
    with pytest.raises(ValidationError):
        build()


def test_secrets_stay_out_of_reprs_and_validation_errors():
    request = ka_send(1)
    assert "卡密" not in repr(request)
    assert "31231231231" not in repr(request)  # the token
    assert "code0" not in repr(ma_send(1))
    with pytest.raises(ValidationError) as refused:
        MaSendRequest(
            outer_id="o",
            token="t",
            certificate_type=0,
            isv_ka_list=[IsvKa(ka_no="NO", ka_mi="SECRET-KA-MI")],
        )
    assert "SECRET-KA-MI" not in str(refused.value)


# --- results ---------------------------------------------------------------------------


def test_ma_send_result():
    ok = MaSendResult.from_response(
        {"resp_body": {"attribute_map": "{}"}, "ret_code": "isv.success-all", "ret_msg": "操作成功"}
    )
    assert ok.succeeded
    failed = MaSendResult.from_response({"ret_code": "isv.order-closed", "ret_msg": "订单已关闭"})
    assert not failed.succeeded
    assert (failed.ret_code, failed.ret_msg) == ("isv.order-closed", "订单已关闭")
    assert not MaSendResult.from_response({}).succeeded


def bind_answer(invalid: object = None, bind_fail: object = None, **result: object) -> dict:
    data: dict[str, object] = {"out_biz_id": "B1"}
    if invalid is not None:
        data["invalid_card_no_s"] = invalid
    if bind_fail is not None:
        data["bind_fail_card_no_s"] = bind_fail
    return {"result": {"success": True, "message": "成功", "data": data, **result}}


@pytest.mark.parametrize(
    ("invalid", "bind_fail"),
    [
        ({"string": ["C1"]}, {"string": ["C2", "C3"]}),  # wrapped (not simplified)
        (["C1"], ["C2", "C3"]),  # simplify=true
        ("C1", "C2,C3"),  # defensively: comma-joined text
    ],
)
def test_card_bind_result_lists_in_every_style(invalid, bind_fail):
    result = CardBindResult.from_response(bind_answer(invalid, bind_fail))
    assert result.success
    assert result.message == "成功"
    assert result.out_biz_id == "B1"
    assert result.invalid_card_no_s == ["C1"]
    assert result.bind_fail_card_no_s == ["C2", "C3"]
    assert result.bound(["C0", "C1", "C2", "C3", "C4"]) == ["C0", "C4"]


@pytest.mark.parametrize("empty", [None, {}, {"string": []}, [], ""])
def test_empty_or_absent_lists_mean_every_card_bound(empty):
    result = CardBindResult.from_response(bind_answer(empty, empty))
    assert result.invalid_card_no_s == []
    assert result.bind_fail_card_no_s == []
    assert result.bound(["C0", "C1"]) == ["C0", "C1"]


def test_a_failed_bind_binds_nothing():
    result = CardBindResult.from_response({"result": {"success": False, "message": "用户不存在"}})
    assert not result.success
    assert result.message == "用户不存在"
    assert result.out_biz_id is None
    assert result.bound(["C0"]) == []
    assert not CardBindResult.from_response({}).success
    assert CardBindResult.from_response({"result": {"success": "true"}}).success


def test_string_list_shapes():
    assert string_list({"string": "C1"}) == ["C1"]
    assert string_list(["C1", None, " ", 42]) == ["C1", "42"]
    assert string_list(7) == []


def test_make_finish_and_status_sended_parameters():
    assert MakeFinishRequest(card_order_id=16002).to_params() == {"card_order_id": "16002"}
    sended = StatusSendedRequest(
        card_order_id=16002, logistics_order_id="SF1234567890", logistics_company="顺丰速运"
    )
    assert sended.to_params() == {
        "card_order_id": "16002",
        "logistics_order_id": "SF1234567890",
        "logistics_company": "顺丰速运",
    }
    assert MakeFinishRequest.METHOD == "alibaba.fundplatform.cardorders.status.make.finish"
    assert StatusSendedRequest.METHOD == "alibaba.fundplatform.cardorders.status.sended"
    assert not MakeFinishRequest.NEEDS_SESSION
    assert not StatusSendedRequest.NEEDS_SESSION


@pytest.mark.parametrize(
    "build",
    [
        lambda: MakeFinishRequest(card_order_id=0),
        lambda: StatusSendedRequest(
            card_order_id=1, logistics_order_id=" ", logistics_company="顺丰速运"
        ),
        lambda: StatusSendedRequest(
            card_order_id=1, logistics_order_id="SF1", logistics_company=""
        ),
    ],
)
def test_notice_refusals(build):
    with pytest.raises(ValidationError):
        build()


@pytest.mark.parametrize(
    ("answer", "success"),
    [
        ({"result": {"success": True}, "request_id": "r"}, True),  # simplified, or unwrapped
        ({"result": {"success": False}}, False),
        ({"result": {"success": "true"}}, True),  # defensively: as text
        ({"success": True}, True),  # flattened by a gateway
        ({"result": {}}, False),
        ({}, False),
    ],
)
def test_card_order_notice_result(answer, success):
    assert CardOrderNoticeResult.from_response(answer).success is success


def test_a_wrapped_notice_answer_is_read_after_the_client_unwraps_it():
    method = MakeFinishRequest.METHOD
    wrapped = {
        "alibaba_fundplatform_cardorders_status_make_finish_response": {
            "result": {"success": True},
            "request_id": "r",
        }
    }
    assert CardOrderNoticeResult.from_response(unwrap_top_response(method, wrapped)).success


def test_ma_resend_carries_codes_only_and_hides_them():
    call = MaResendRequest(
        outer_id="1753340805138544",
        token="31231231231",
        isv_ma_list=[IsvMa(code="abc124"), IsvMa(code="abc125", num=2)],
    )
    params = call.to_params()
    assert params == {
        "outer_id": "1753340805138544",
        "token": "31231231231",
        "biz_type": "3001",
        "isv_ma_list": '[{"code":"abc124","num":1},{"code":"abc125","num":2}]',
    }
    assert "abc124" not in repr(call)
    assert "31231231231" not in repr(call)
    assert MaResendRequest.METHOD == "taobao.eticket.merchant.ma.resend"


@pytest.mark.parametrize("codes", [[], [IsvMa(code="c")] * 201])
def test_ma_resend_needs_1_to_200_codes(codes):
    with pytest.raises(ValidationError) as refused:
        MaResendRequest(outer_id="1", token="t", isv_ma_list=codes)
    assert "isv_ma_list" in str(refused.value)
