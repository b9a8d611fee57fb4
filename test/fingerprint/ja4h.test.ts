import { hash12, ja4h, ja4hInputFromHeaderList, ja4hInputFromHttp1, languageCode } from '../../src/fingerprint/ja4h.js';

const h = (name: string, value: string) => ({ name, value });

describe('JA4H', () => {
  test('FoxIO\'s own example request: cookies and referer', () => {
    const req = {
      method: 'GET', version: 'HTTP/1.1',
      headers: [
        h('Host', 'www.cnn.com'),
        h('Cookie', 'FastAB=0=6859,1=8174,2=4183,3=3319,4=3917,5=2557,6=4259,7=6070,8=0804,9=6453,10=1942,11=4435,12=4143,13=9445,14=6957,15=8682,16=1885,17=1825,18=3760,19=0929; sato=1; countryCode=US; stateCode=VA; geoData=purcellville|VA|20132|US|NA|-400|broadband|39.160|-77.700|511; usprivacy=1---; umto=1; _dd_s=logs=1&id=b5c2d770-eaba-4847-8202-390c4552ff9a&created=1686159462724&expire=1686160422726'),
        h('Sec-Ch-Ua', ''), h('Sec-Ch-Ua-Mobile', '?0'),
        h('User-Agent', 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/114.0.5735.110 Safari/537.36'),
        h('Sec-Ch-Ua-Platform', '""'), h('Accept', '*/*'), h('Sec-Fetch-Site', 'same-origin'), h('Sec-Fetch-Mode', 'cors'),
        h('Sec-Fetch-Dest', 'empty'), h('Sec-Fetch-Mode', 'cors'), h('Sec-Fetch-Dest', 'empty'),
        h('Referer', 'https://www.cnn.com/'), h('Accept-Encoding', 'gzip, deflate'), h('Accept-Language', 'en-US,en;q=0.9'),
      ],
    };
    const input = ja4hInputFromHttp1(req);
    expect(input).not.toBeNull();
    const r = ja4h(input!);
    expect(r?.ja4h).toBe('ge11cr13enus_88d2d584d47f_0f2659b474bf_161698816dab');
    expect(r?.raw.startsWith('ge11cr13enus_Host,Sec-Ch-Ua,Sec-Ch-Ua-Mobile,User-Agent,')).toBe(true);
    expect(r?.raw).toContain('_FastAB,_dd_s,countryCode,geoData,sato,stateCode,umto,usprivacy_');
  });

  test('without cookies or referer the last two parts are zeros', () => {
    const input = ja4hInputFromHttp1({ method: 'POST', version: 'HTTP/1.0', headers: [h('Host', 'a'), h('Content-Length', '3')] });
    expect(ja4h(input!)?.ja4h).toBe(`po10nn020000_${hash12('Host,Content-Length')}_000000000000_000000000000`);
  });

  test('a referer without cookies', () => {
    const input = ja4hInputFromHttp1({ method: 'GET', version: 'HTTP/1.1', headers: [h('Host', 'a'), h('Referer', 'http://b/')] });
    expect(ja4h(input!)?.ja4h).toBe(`ge11nr010000_${hash12('Host')}_000000000000_000000000000`);
  });

  test('cookies are sorted by name, keeping the order of equal names', () => {
    const input = ja4hInputFromHttp1({ method: 'GET', version: 'HTTP/1.1', headers: [h('Cookie', 'b=2; a-x=3; a=1')] });
    const r = ja4h(input!);
    expect(r?.raw).toBe('ge11cn000000__a,a-x,b_a=1,a-x=3,b=2');
    expect(r?.ja4h).toBe(`ge11cn000000_000000000000_${hash12('a,a-x,b')}_${hash12('a=1,a-x=3,b=2')}`);
  });

  test('HTTP/1 flags need the exact names; values come from any spelling', () => {
    const input = ja4hInputFromHttp1({ method: 'GET', version: 'HTTP/1.1', headers: [h('cookie', 'a=1'), h('accept-language', 'da')] });
    expect(input).toMatchObject({ hasCookie: false, headerNames: ['cookie', 'accept-language'], cookies: ['a=1'], language: 'da' });
  });

  test('unknown methods and versions are not fingerprinted', () => {
    expect(ja4h({ method: 'PROPFIND', version: '11', headerNames: [], hasCookie: false, hasReferer: false, cookies: [], language: null })).toBeNull();
    expect(ja4hInputFromHttp1({ method: 'GET', version: 'HTTP/0.9', headers: [] })).toBeNull();
    expect(ja4hInputFromHttp1({ method: 'GET', version: 'Arkime HTTP/1.0', headers: [] })).toBeNull();
  });

  test('header count is capped at 99', () => {
    const headers = Array.from({ length: 120 }, (_, i) => h(`X-${i}`, ''));
    expect(ja4h(ja4hInputFromHttp1({ method: 'GET', version: 'HTTP/1.1', headers })!)?.ja4h.slice(0, 12)).toBe('ge11nn990000');
  });

  test('language codes', () => {
    expect(languageCode('da, en-GB;q=0.8, en;q=0.7')).toBe('da00');
    expect(languageCode('en-US,en;q=0.9')).toBe('enus');
    expect(languageCode(' ru-RU')).toBe('ruru');
    expect(languageCode(null)).toBe('0000');
    expect(languageCode('zh-Hant-TW')).toBe('zhha');
  });

  test('HTTP/2 header lists keep pseudo-headers and take each cookie field whole', () => {
    const fields = [
      h(':method', 'GET'), h(':authority', 'x'), h(':scheme', 'https'), h(':path', '/'),
      h('user-agent', 'u'), h('cookie', 'b=2'), h('cookie', 'a=1'), h('referer', 'r'), h('accept-language', 'en-US'),
    ];
    const input = ja4hInputFromHeaderList(fields);
    const r = ja4h(input!);
    expect(r?.raw).toBe('ge20cr06enus_:method,:authority,:scheme,:path,user-agent,accept-language_a,b_a=1,b=2');
    expect(ja4hInputFromHeaderList([h(':status', '200')])).toBeNull();
  });
});
